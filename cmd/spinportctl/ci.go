package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ciToken exchanges the CI job's OIDC ID token for a short-lived spinport
// token restricted to TENANT/APP (POST /api/v1/ci/token; a trust policy
// on the app must match, docs/ci.md) and prints it. The ID token comes
// from SPINPORT_OIDC_TOKEN (GitLab: an id_tokens variable) or, in GitHub
// Actions (permissions: id-token: write), from the job's token endpoint
// for the audience in SPINPORT_OIDC_AUDIENCE (default: the spinport URL).
func (c *cli) ciToken() error {
	if err := c.inv.only("ci-token"); err != nil {
		return err
	}
	if err := c.want(1, "ci-token TENANT/APP"); err != nil {
		return err
	}
	tenant, app, err := splitApp(c.inv.args[1])
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return err
	}
	base := first(c.inv.url, c.getenv("SPINPORT_URL"), cfg.URL)
	if base == "" {
		return usageError("no spinport URL: pass --url or set SPINPORT_URL")
	}
	idToken := c.getenv("SPINPORT_OIDC_TOKEN")
	if idToken == "" {
		if idToken, err = c.githubIDToken(first(c.getenv("SPINPORT_OIDC_AUDIENCE"), base)); err != nil {
			return err
		}
	}
	cl, err := newClient(base, "") // the ID token is the credential
	if err != nil {
		return err
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
	}
	b, err := cl.json("POST", "/api/v1/ci/token", map[string]string{"token": idToken, "tenant": tenant, "app": app}, &out)
	if err != nil {
		return err
	}
	if c.json() {
		c.printJSON(b)
		return nil
	}
	fmt.Fprintln(c.stdout, out.Token)
	fmt.Fprintf(c.stderr, "a token for %s/%s until %s\n", tenant, app, out.ExpiresAt)
	return nil
}

// githubIDToken asks GitHub Actions for the job's OIDC token.
func (c *cli) githubIDToken(audience string) (string, error) {
	reqURL, bearer := c.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), c.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || bearer == "" {
		return "", usageError("no OIDC token: set SPINPORT_OIDC_TOKEN, or run in GitHub Actions with permissions: id-token: write")
	}
	req, err := http.NewRequest("GET", reqURL+"&audience="+url.QueryEscape(audience), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+bearer)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting the job's OIDC token: %v", err)
	}
	defer res.Body.Close()
	var v struct {
		Value string `json:"value"`
	}
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&v) != nil || v.Value == "" {
		return "", fmt.Errorf("requesting the job's OIDC token: HTTP %d", res.StatusCode)
	}
	return v.Value, nil
}
