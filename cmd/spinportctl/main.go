// Command spinportctl is a command-line client of spinport's HTTP API
// (api/openapi.json): list apps, deploy and wait for a revision to become
// ready, roll back, read status and logs, set variables. It uses only the
// API, so an API token (spt_…) scoped to a tenant is all it needs.
//
// Installed as the Spin plugin "port" (spin-plugin/spinport.json) the same
// binary runs as `spin port …`.
//
// Standard library only; Go 1.21.
package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `spinportctl: a command-line client of the spinport API

Usage:
  spinportctl login --url URL --token TOKEN
  spinportctl apps TENANT
  spinportctl deploy TENANT/APP IMAGE [--wait 120s]
  spinportctl ci-token TENANT/APP   (prints a short-lived token for the CI job's
                                     OIDC token: SPINPORT_OIDC_TOKEN, or GitHub Actions')
  spinportctl rollback TENANT/APP REVISION
  spinportctl status TENANT/APP
  spinportctl logs TENANT/APP [--tail N] [--follow]
  spinportctl variables list TENANT/APP
  spinportctl variables set TENANT/APP NAME VALUE [--secret]
  spinportctl variables unset TENANT/APP NAME

Global flags:
  --url URL        spinport's base URL (or SPINPORT_URL, or the saved login)
  --token TOKEN    an spt_… API token or the admin token (or SPINPORT_TOKEN,
                   or the saved login)
  --output FORMAT  text (default) or json: the API's JSON as it answered

login saves the URL and token to $XDG_CONFIG_HOME/spinport/config.json
(mode 0600). Exit status: 0 on success, 1 when the API refused or the
deploy failed or timed out, 2 on a usage error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// pollInterval is how often deploy --wait reads the status (tests shorten it).
var pollInterval = 2 * time.Second

// run is the whole command: args without the program name; getenv reads
// the environment (SPINPORT_URL, SPINPORT_TOKEN, XDG_CONFIG_HOME, HOME).
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	inv, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "spinportctl: %v\n\n%s", err, usage)
		return exitUsage
	}
	if inv.help {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	c := &cli{inv: inv, getenv: getenv, stdout: stdout, stderr: stderr}
	if err := c.dispatch(); err != nil {
		if ue, ok := err.(usageError); ok {
			fmt.Fprintf(stderr, "spinportctl: %s\n(spinportctl --help lists the commands)\n", string(ue))
			return exitUsage
		}
		fmt.Fprintf(stderr, "spinportctl: %v\n", err)
		return exitFail
	}
	return exitOK
}
