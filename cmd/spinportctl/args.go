package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// usageError is a mistake in the command line (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// invocation is a parsed command line. Flags may come before, between or
// after the positional arguments; "--" ends the flags.
type invocation struct {
	args   []string // the command and its positional arguments
	url    string
	token  string
	output string // "text" or "json"
	wait   time.Duration
	tail   int
	secret bool
	follow bool
	help   bool
	seen   map[string]bool // flags given, by canonical name
}

// flagSpec: whether a flag takes a value.
var flagSpec = map[string]bool{
	"url": true, "token": true, "output": true, "o": true,
	"wait": true, "tail": true, "secret": false, "follow": false, "f": false, "help": false, "h": false,
}

func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{output: "text", seen: map[string]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			inv.args = append(inv.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			inv.args = append(inv.args, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		takes, known := flagSpec[name]
		if !known {
			return nil, fmt.Errorf("unknown flag %s", a)
		}
		if !takes {
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return nil, fmt.Errorf("flag --%s: %q is not true or false", name, value)
				}
				inv.setBool(name, b)
			} else {
				inv.setBool(name, true)
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if err := inv.set(name, value); err != nil {
			return nil, err
		}
	}
	if len(inv.args) == 0 && !inv.help {
		return nil, errors.New("no command given")
	}
	return inv, nil
}

func (inv *invocation) setBool(name string, b bool) {
	switch name {
	case "secret":
		inv.secret = b
	case "follow", "f":
		inv.follow = b
		name = "follow"
	case "help", "h":
		inv.help = b
		name = "help"
	}
	inv.seen[name] = true
}

func (inv *invocation) set(name, value string) error {
	switch name {
	case "url":
		inv.url = value
	case "token":
		inv.token = value
	case "output", "o":
		name = "output"
		if value != "text" && value != "json" {
			return fmt.Errorf("--output must be text or json, not %q", value)
		}
		inv.output = value
	case "wait":
		d, err := time.ParseDuration(value)
		if err != nil {
			// A bare number is seconds, as in --wait 120.
			n, nerr := strconv.Atoi(value)
			if nerr != nil {
				return fmt.Errorf("--wait: %q is not a duration such as 120s or 5m", value)
			}
			d = time.Duration(n) * time.Second
		}
		if d <= 0 {
			return fmt.Errorf("--wait must be positive, not %q", value)
		}
		inv.wait = d
	case "tail":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 5000 {
			return fmt.Errorf("--tail must be a whole number of lines from 1 to 5000, not %q", value)
		}
		inv.tail = n
	}
	inv.seen[name] = true
	return nil
}

// only refuses flags that cmd does not take (global flags are always fine).
func (inv *invocation) only(cmd string, allowed ...string) error {
	ok := map[string]bool{"url": true, "token": true, "output": true, "help": true}
	for _, a := range allowed {
		ok[a] = true
	}
	for name := range inv.seen {
		if !ok[name] {
			return usageError(fmt.Sprintf("%s does not take --%s", cmd, name))
		}
	}
	return nil
}

// splitApp parses TENANT/APP.
func splitApp(s string) (tenant, app string, err error) {
	t, a, ok := strings.Cut(s, "/")
	if !ok || t == "" || a == "" || strings.Contains(a, "/") {
		return "", "", usageError(fmt.Sprintf("%q is not TENANT/APP", s))
	}
	return t, a, nil
}
