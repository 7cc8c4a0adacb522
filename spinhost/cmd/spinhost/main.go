// Command spinhost runs a Spin application (Spin 1 ABI components, such as
// those built with the Spin Go SDK v2 and TinyGo) the way spin up would,
// on the spinhost test host:
//
//	spinhost --manifest ../spin.toml [--listen 127.0.0.1:3000]
//	         [--runtime-config-file f.toml] [--variable name=value]...
//	         [--wasm path] [--state-dir dir] [--cache-dir dir]
//	         [--store-timeout 0] [--outbound-timeout 0]
//	         [--ca-bundle file.pem] [--redis-replies spin-3.5]
//
// --store-timeout bounds each key-value and outbound-Redis call and
// --outbound-timeout each outbound HTTP request (headers and body); both
// take Go durations such as 500ms or 5s. The default, 0, means no timeout,
// as in Spin, whose Redis key-value store, outbound Redis and Spin 1
// outbound HTTP have none: a call then ends only when it completes or the
// incoming request's client goes away. Tests set them so that a paused
// Redis or a stalled server answers the guest an error instead of hanging.
//
// --ca-bundle is the PEM bundle the guest's runtime trusts instead of the
// system roots, for outbound HTTPS and rediss:// (Options.CABundleFile);
// on SpinKube that is the executor's caCertSecret. Without it the system
// roots apply, and on Linux Go reads SSL_CERT_FILE (and SSL_CERT_DIR) for
// them, as OpenSSL does for Spin: SSL_CERT_FILE=bundle.pem spinhost ...
// works too. Runtime config [[client_tls]] is parsed but, as in Spin, not
// applied to Spin 1 outbound HTTP.
//
// --redis-replies picks how outbound-redis execute returns replies:
// spin-3.5 (default; Spin 3.5 and later, containerd-shim-spin v0.22 and
// later: nil and "+OK" are results) or spin-3.4 (dropped, as before).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spinport/spinport/spinhost"
)

// variableFlags collects repeated --variable name=value flags.
type variableFlags map[string]string

func (v variableFlags) String() string { return "" }

func (v variableFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("expected name=value")
	}
	v[name] = value
	return nil
}

func main() {
	vars := variableFlags{}
	opts := spinhost.Options{}
	flag.StringVar(&opts.ManifestPath, "manifest", "spin.toml", "path to the application manifest (spin.toml)")
	flag.StringVar(&opts.Listen, "listen", "127.0.0.1:3000", "address to listen on")
	flag.StringVar(&opts.RuntimeConfigPath, "runtime-config-file", "", "runtime configuration file, as for spin up --runtime-config-file")
	flag.StringVar(&opts.WasmPath, "wasm", "", "use this .wasm as the source of every component instead of the manifest's")
	flag.StringVar(&opts.StateDir, "state-dir", "", "state directory (default <manifest dir>/.spin)")
	flag.StringVar(&opts.CompilationCacheDir, "cache-dir", "", "keep compiled wasm code in this directory across runs")
	flag.Var(vars, "variable", "set an application variable (name=value); may be repeated")
	flag.DurationVar(&opts.StoreTimeout, "store-timeout", 0, "bound each key-value and outbound-Redis call, e.g. 5s (0 = no timeout, as in Spin)")
	flag.DurationVar(&opts.OutboundHTTPTimeout, "outbound-timeout", 0, "bound each outbound HTTP request, headers and body, e.g. 30s (0 = no timeout, as in Spin)")
	flag.StringVar(&opts.CABundleFile, "ca-bundle", "", "PEM CA bundle to trust instead of the system roots for outbound HTTPS and rediss:// (default: the system roots; SSL_CERT_FILE is honoured)")
	flag.StringVar(&opts.RedisReplies, "redis-replies", spinhost.RedisRepliesSpin35, "outbound-redis execute replies: "+spinhost.RedisRepliesSpin35+" (nil and OK are results) or "+spinhost.RedisRepliesSpin34+" (dropped)")
	flag.Parse()
	if opts.StoreTimeout < 0 || opts.OutboundHTTPTimeout < 0 {
		fmt.Fprintln(os.Stderr, "spinhost: -store-timeout and -outbound-timeout must not be negative")
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "spinhost: unexpected arguments %v\n", flag.Args())
		os.Exit(2)
	}
	opts.Variables = vars
	logger := log.New(os.Stderr, "", log.LstdFlags)
	opts.Logger = logger

	ctx := context.Background()
	h, err := spinhost.New(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		h.Close()
		fmt.Fprintf(os.Stderr, "Error: Unable to listen on %s: %v\n", opts.Listen, err)
		os.Exit(1)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	closed := make(chan struct{})
	go func() {
		<-sigs
		logger.Printf("shutting down")
		h.Close()
		close(closed)
	}()
	// Serve returns nil only once Close has stopped the server.
	if err := h.Serve(l); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	<-closed
}
