package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// config is what login saves.
type config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// configPath is $XDG_CONFIG_HOME/spinport/config.json, else
// $HOME/.config/spinport/config.json.
func configPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: cannot find the config file")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "spinport", "config.json"), nil
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	p, err := configPath(getenv)
	if err != nil {
		return c, nil // no config: flags or environment must say
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %v", p, err)
	}
	return c, nil
}

func saveConfig(getenv func(string) string, c config) (string, error) {
	p, err := configPath(getenv)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an old file's mode
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// problem is an application/problem+json answer (RFC 9457).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
	Quota  string `json:"quota,omitempty"`
}

// apiError is a refusal from the API.
type apiError struct {
	problem
	Body []byte // the answer as it came, for --output json
}

func (e *apiError) Error() string {
	s := e.Title
	if s == "" {
		s = fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Field != "" {
		s += " (field: " + e.Field + ")"
	}
	if e.Quota != "" {
		s += " (quota: " + e.Quota + ")"
	}
	return s
}

// client talks to one spinport.
type client struct {
	base  string // without a trailing slash
	token string
	http  *http.Client
	agent string
}

func newClient(base, token string) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError(fmt.Sprintf("the URL %q is not an http(s) URL such as https://spinport.example.com", base))
	}
	return &client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second},
		agent: "spinportctl"}, nil
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

// appPath is /api/v1/tenants/T/apps/A.
func appPath(tenant, app string) string {
	return "/api/v1/tenants/" + esc(tenant) + "/apps/" + esc(app)
}

// do sends one request with a JSON body (nil for none) and returns the
// answer's body; a status of 400 or more is an *apiError.
func (c *client) do(method, path string, body any) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.agent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, res.StatusCode, fmt.Errorf("%s %s: reading the answer: %v", method, path, err)
	}
	if res.StatusCode >= 400 {
		e := &apiError{Body: b}
		if json.Unmarshal(b, &e.problem) != nil || e.Title == "" {
			// Not problem+json (a proxy's page, say): say what came.
			e.problem = problem{Status: res.StatusCode, Title: fmt.Sprintf("HTTP %d", res.StatusCode), Detail: snippet(b)}
		}
		if e.Status == 0 {
			e.Status = res.StatusCode
		}
		return b, res.StatusCode, e
	}
	return b, res.StatusCode, nil
}

// get decodes a JSON answer into v too.
func (c *client) json(method, path string, body, v any) ([]byte, error) {
	b, _, err := c.do(method, path, body)
	if err != nil {
		return b, err
	}
	if v != nil && len(b) > 0 {
		if err := json.Unmarshal(b, v); err != nil {
			return b, fmt.Errorf("%s %s: the answer is not the JSON expected: %v", method, path, err)
		}
	}
	return b, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
