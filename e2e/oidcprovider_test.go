package e2e

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// A real OpenID provider for the tests: zitadel/oidc's example provider
// (pkg/op with the in-memory example storage and its username/password
// login page), on 127.0.0.1 over plain http.
//
// Its users come from storage.NewUserStore: "test-user@127.0.0.1" and
// "test-user2", both with password "verysecure".

const (
	providerUser     = "test-user@127.0.0.1"
	providerPassword = "verysecure"

	// The clients spinport can be: confidential (client secret; the
	// provider accepts client_secret_basic and client_secret_post) and
	// public (no secret; the provider then checks the PKCE verifier).
	confidentialClient = "spinport-web"
	confidentialSecret = "e2e-client-secret-must-not-leak"
	publicClient       = "spinport-native"
)

type provider struct {
	Issuer string // http://127.0.0.1:PORT, no trailing slash
	srv    *http.Server
}

// startProvider runs the provider with spinport's redirect URI registered
// for both clients. Its log goes to w (warnings and errors only).
func startProvider(t *testing.T, redirectURI string, w io.Writer) *provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()

	// Each provider gets its own clients (storage.RegisterClients would
	// write a package-level map that every provider shares).
	st := storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		confidentialClient: storage.WebClient(confidentialClient, confidentialSecret, redirectURI),
		publicClient:       storage.NativeClient(publicClient, redirectURI),
	})

	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	router := exampleop.SetupServer(issuer, st, logger, false)
	p := &provider{Issuer: issuer, srv: &http.Server{Handler: router}}
	go p.srv.Serve(l) //nolint:errcheck // ErrServerClosed after Close
	t.Cleanup(func() { p.srv.Close() })
	return p
}
