package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Shapes of the API's answers (api/render.go, api/status.go); only the
// fields spinportctl shows.
type revision struct {
	Number     int64  `json:"number"`
	Image      string `json:"image"`
	Digest     string `json:"digest"`
	Cause      string `json:"cause"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	RollbackOf int64  `json:"rollbackOf"`
	CreatedAt  string `json:"createdAt"`
}

type appItem struct {
	Name        string `json:"name"`
	Replicas    *int64 `json:"replicas"`
	Autoscaling *struct {
		Min int64 `json:"minReplicas"`
		Max int64 `json:"maxReplicas"`
	} `json:"autoscaling"`
	Domains     []string `json:"domains"`
	DefaultHost string   `json:"defaultHost"`
}

type appStatus struct {
	App      string `json:"app"`
	Ready    bool   `json:"ready"`
	Waiting  string `json:"waiting"` // why it is not ready yet, in words
	Revision *struct {
		Number int64  `json:"number"`
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"revision"`
	Cluster struct {
		SpinApp *struct {
			Revision      int64  `json:"revision"`
			Image         string `json:"image"`
			Replicas      int64  `json:"replicas"`
			ReadyReplicas int64  `json:"readyReplicas"`
		} `json:"spinApp"`
		// Beside spinApp, as api/status.go writes them.
		Deployment *struct {
			Rollout   string `json:"rollout"`
			Updated   int64  `json:"updatedReplicas"`
			Available int64  `json:"availableReplicas"`
		} `json:"deployment"`
		Certificate *struct {
			Ready   bool   `json:"ready"`
			Message string `json:"message"`
		} `json:"certificate"`
		URLs []string `json:"urls"`
	} `json:"cluster"`
}

func (s *appStatus) urls() []string { return s.Cluster.URLs }

type variable struct {
	Name      string `json:"name"`
	Secret    bool   `json:"secret"`
	Value     string `json:"value"`
	UpdatedAt string `json:"updatedAt"`
}

type cli struct {
	inv            *invocation
	getenv         func(string) string
	stdout, stderr io.Writer
	now            func() time.Time
	sleep          func(time.Duration)
	followRounds   int // logs --follow: polls before returning (0: until interrupted)
}

func (c *cli) json() bool { return c.inv.output == "json" }

// printJSON writes the API's answer as it came, on one line ending in \n.
func (c *cli) printJSON(b []byte) {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return
	}
	fmt.Fprintln(c.stdout, s)
}

// client resolves URL and token: flag, then environment, then login.
func (c *cli) client() (*client, error) {
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return nil, err
	}
	base := first(c.inv.url, c.getenv("SPINPORT_URL"), cfg.URL)
	token := first(c.inv.token, c.getenv("SPINPORT_TOKEN"), cfg.Token)
	if base == "" {
		return nil, usageError("no spinport URL: pass --url, set SPINPORT_URL or run spinportctl login")
	}
	if token == "" {
		return nil, usageError("no token: pass --token, set SPINPORT_TOKEN or run spinportctl login")
	}
	return newClient(base, token)
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// want checks the number of positional arguments after the command.
func (c *cli) want(n int, form string) error {
	if len(c.inv.args)-1 != n {
		return usageError("usage: spinportctl " + form)
	}
	return nil
}

func (c *cli) dispatch() error {
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = time.Sleep
	}
	a := c.inv.args
	switch a[0] {
	case "login":
		return c.login()
	case "apps":
		return c.apps()
	case "deploy":
		return c.deploy()
	case "ci-token":
		return c.ciToken()
	case "rollback":
		return c.rollback()
	case "status":
		return c.status()
	case "logs":
		return c.logs()
	case "variables", "vars":
		if len(a) < 2 {
			return usageError("usage: spinportctl variables list|set|unset TENANT/APP …")
		}
		switch a[1] {
		case "list", "ls":
			return c.variablesList()
		case "set":
			return c.variablesSet()
		case "unset", "rm":
			return c.variablesUnset()
		}
		return usageError(fmt.Sprintf("unknown variables command %q (list, set or unset)", a[1]))
	case "help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", a[0]))
}

func (c *cli) login() error {
	if err := c.inv.only("login"); err != nil {
		return err
	}
	if err := c.want(0, "login --url URL --token TOKEN"); err != nil {
		return err
	}
	base := first(c.inv.url, c.getenv("SPINPORT_URL"))
	token := first(c.inv.token, c.getenv("SPINPORT_TOKEN"))
	if base == "" || token == "" {
		return usageError("usage: spinportctl login --url URL --token TOKEN")
	}
	cl, err := newClient(base, token)
	if err != nil {
		return err
	}
	// Check the token before saving it.
	b, err := cl.json("GET", "/api/v1/me", nil, nil)
	if err != nil {
		return err
	}
	p, err := saveConfig(c.getenv, config{URL: cl.base, Token: token})
	if err != nil {
		return err
	}
	if c.json() {
		c.printJSON(b)
		return nil
	}
	fmt.Fprintf(c.stdout, "logged in to %s (saved in %s)\n", cl.base, p)
	return nil
}

func (c *cli) apps() error {
	if err := c.inv.only("apps"); err != nil {
		return err
	}
	if err := c.want(1, "apps TENANT"); err != nil {
		return err
	}
	tenant := c.inv.args[1]
	if tenant == "" || strings.Contains(tenant, "/") {
		return usageError(fmt.Sprintf("%q is not a tenant", tenant))
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	// Every page, one list.
	var raw []json.RawMessage
	cursor := ""
	for pages := 0; pages < 1000; pages++ {
		path := "/api/v1/tenants/" + esc(tenant) + "/apps"
		if cursor != "" {
			path += "?cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"nextCursor"`
		}
		if _, err := cl.json("GET", path, nil, &page); err != nil {
			return err
		}
		raw = append(raw, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	if c.json() {
		if raw == nil {
			raw = []json.RawMessage{}
		}
		b, _ := json.Marshal(map[string]any{"items": raw, "nextCursor": nil})
		c.printJSON(b)
		return nil
	}
	if len(raw) == 0 {
		fmt.Fprintf(c.stdout, "no apps in %s\n", tenant)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREPLICAS\tHOSTS")
	for _, r := range raw {
		var a appItem
		if err := json.Unmarshal(r, &a); err != nil {
			return fmt.Errorf("an app in the list is not the JSON expected: %v", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.scaling(), strings.Join(append([]string{a.DefaultHost}, a.Domains...), ", "))
	}
	return tw.Flush()
}

func (a appItem) scaling() string {
	switch {
	case a.Autoscaling != nil:
		return fmt.Sprintf("%d-%d (auto)", a.Autoscaling.Min, a.Autoscaling.Max)
	case a.Replicas != nil:
		return strconv.FormatInt(*a.Replicas, 10)
	}
	return "-"
}

func describeRevision(r revision) string {
	s := fmt.Sprintf("revision %d %s", r.Number, r.State)
	if r.RollbackOf > 0 {
		s += fmt.Sprintf(" (rollback to revision %d)", r.RollbackOf)
	}
	s += ": " + r.Image
	if r.Digest != "" && !strings.Contains(r.Image, "@") {
		s += "@" + r.Digest
	}
	if r.Reason != "" {
		s += "\n  reason: " + r.Reason
	}
	return s
}

func (c *cli) deploy() error {
	if err := c.inv.only("deploy", "wait"); err != nil {
		return err
	}
	if err := c.want(2, "deploy TENANT/APP IMAGE [--wait 120s]"); err != nil {
		return err
	}
	tenant, app, err := splitApp(c.inv.args[1])
	if err != nil {
		return err
	}
	image := c.inv.args[2]
	if image == "" {
		return usageError("the image is empty")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var rev revision
	b, err := cl.json("POST", appPath(tenant, app)+"/deployments", map[string]any{"image": image}, &rev)
	if err != nil {
		return err
	}
	return c.afterRevision(cl, tenant, app, rev, b)
}

// afterRevision reports a new revision and, with --wait, waits for it.
func (c *cli) afterRevision(cl *client, tenant, app string, rev revision, b []byte) error {
	if c.inv.wait == 0 {
		if c.json() {
			c.printJSON(b)
		} else {
			fmt.Fprintln(c.stdout, describeRevision(rev))
		}
		if rev.State == "failed" {
			return fmt.Errorf("revision %d failed: %s", rev.Number, first(rev.Reason, "no reason given"))
		}
		return nil
	}
	fmt.Fprintf(c.stderr, "%s/%s: %s\n", tenant, app, strings.ReplaceAll(describeRevision(rev), "\n  ", "; "))
	return c.wait(cl, tenant, app, rev)
}

// wait polls the status until revision rev is ready, failed, superseded,
// or --wait is up.
func (c *cli) wait(cl *client, tenant, app string, rev revision) error {
	if rev.State == "pending" { // recorded only: the installation has no cluster, nothing will roll out
		return fmt.Errorf("revision %d is pending and will not roll out: %s", rev.Number, first(rev.Reason, "no reason given"))
	}
	deadline := c.now().Add(c.inv.wait)
	last := ""
	state, reason := rev.State, rev.Reason
	var lastErr error
	for {
		var st appStatus
		b, err := cl.json("GET", appPath(tenant, app)+"/status", nil, &st)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Status != 503 && ae.Status != 502 {
				return err // refused: waiting will not help
			}
			if lastErr == nil || lastErr.Error() != err.Error() {
				fmt.Fprintf(c.stderr, "reading the status: %v (retrying)\n", err)
			}
			lastErr = err
		} else {
			lastErr = nil
			if st.Revision != nil && st.Revision.Number > rev.Number {
				return fmt.Errorf("revision %d was superseded by revision %d while waiting", rev.Number, st.Revision.Number)
			}
			if st.Revision != nil && st.Revision.Number == rev.Number {
				state, reason = st.Revision.State, st.Revision.Reason
			}
			if st.Waiting != "" && state != "failed" {
				reason = st.Waiting
			}
			line := progress(rev.Number, state, reason, &st)
			if line != last {
				fmt.Fprintln(c.stderr, line)
				last = line
			}
			switch {
			case state == "failed":
				if c.json() {
					c.printJSON(b)
				}
				return fmt.Errorf("revision %d failed: %s", rev.Number, first(reason, "no reason given"))
			case state == "ready" && st.Ready:
				if c.json() {
					c.printJSON(b)
					return nil
				}
				fmt.Fprintf(c.stdout, "revision %d of %s/%s is ready\n", rev.Number, tenant, app)
				for _, u := range st.urls() {
					fmt.Fprintln(c.stdout, u)
				}
				return nil
			}
		}
		left := deadline.Sub(c.now())
		if left <= 0 {
			msg := fmt.Sprintf("timed out after %s: revision %d is %s", c.inv.wait, rev.Number, first(state, "unknown"))
			if reason != "" {
				msg += ": " + reason
			}
			if lastErr != nil {
				msg += " (last status read: " + lastErr.Error() + ")"
			}
			return errors.New(msg)
		}
		if left > pollInterval {
			left = pollInterval
		}
		c.sleep(left)
	}
}

// progress is one line about a revision being rolled out.
func progress(n int64, state, reason string, st *appStatus) string {
	s := fmt.Sprintf("revision %d: %s", n, first(state, "unknown"))
	if sp := st.Cluster.SpinApp; sp != nil && sp.Revision == n {
		s += fmt.Sprintf(", %d/%d replicas ready", sp.ReadyReplicas, sp.Replicas)
		if d := st.Cluster.Deployment; d != nil && d.Rollout != "" {
			s += ", rollout " + d.Rollout
		}
		if cert := st.Cluster.Certificate; cert != nil && !cert.Ready {
			s += ", certificate not ready"
			if cert.Message != "" {
				s += " (" + cert.Message + ")"
			}
		}
	}
	if reason != "" {
		s += " — " + reason
	}
	return s
}

func (c *cli) rollback() error {
	if err := c.inv.only("rollback", "wait"); err != nil {
		return err
	}
	if err := c.want(2, "rollback TENANT/APP REVISION"); err != nil {
		return err
	}
	tenant, app, err := splitApp(c.inv.args[1])
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(c.inv.args[2], "#"), 10, 64)
	if err != nil || n < 1 {
		return usageError(fmt.Sprintf("%q is not a revision number", c.inv.args[2]))
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var rev revision
	b, err := cl.json("POST", appPath(tenant, app)+"/rollback", map[string]any{"revision": n}, &rev)
	if err != nil {
		return err
	}
	return c.afterRevision(cl, tenant, app, rev, b)
}

func (c *cli) status() error {
	if err := c.inv.only("status"); err != nil {
		return err
	}
	if err := c.want(1, "status TENANT/APP"); err != nil {
		return err
	}
	tenant, app, err := splitApp(c.inv.args[1])
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var st appStatus
	b, err := cl.json("GET", appPath(tenant, app)+"/status", nil, &st)
	if err != nil {
		return err
	}
	if c.json() {
		c.printJSON(b)
		return nil
	}
	writeStatus(c.stdout, tenant, &st)
	return nil
}

func writeStatus(w io.Writer, tenant string, st *appStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "app:\t%s/%s\n", tenant, st.App)
	fmt.Fprintf(tw, "ready:\t%t\n", st.Ready)
	if r := st.Revision; r != nil {
		line := fmt.Sprintf("%d (%s)", r.Number, r.State)
		if r.Reason != "" {
			line += ": " + r.Reason
		}
		fmt.Fprintf(tw, "revision:\t%s\n", line)
	} else {
		fmt.Fprintf(tw, "revision:\tnone (never deployed)\n")
	}
	if st.Waiting != "" {
		fmt.Fprintf(tw, "waiting:\t%s\n", st.Waiting)
	}
	if sp := st.Cluster.SpinApp; sp != nil {
		fmt.Fprintf(tw, "running:\trevision %d, %s\n", sp.Revision, sp.Image)
		fmt.Fprintf(tw, "replicas:\t%d/%d ready\n", sp.ReadyReplicas, sp.Replicas)
		if d := st.Cluster.Deployment; d != nil {
			fmt.Fprintf(tw, "rollout:\t%s (%d updated, %d available)\n", d.Rollout, d.Updated, d.Available)
		}
		if cert := st.Cluster.Certificate; cert != nil {
			line := "ready"
			if !cert.Ready {
				line = "not ready"
			}
			if cert.Message != "" {
				line += ": " + cert.Message
			}
			fmt.Fprintf(tw, "certificate:\t%s\n", line)
		}
		for i, u := range st.Cluster.URLs {
			label := ""
			if i == 0 {
				label = "urls:"
			}
			fmt.Fprintf(tw, "%s\t%s\n", label, u)
		}
	} else {
		fmt.Fprintf(tw, "cluster:\tnothing running\n")
	}
	tw.Flush()
}

func (c *cli) logs() error {
	if err := c.inv.only("logs", "tail", "follow"); err != nil {
		return err
	}
	if err := c.want(1, "logs TENANT/APP [--tail N] [--follow]"); err != nil {
		return err
	}
	tenant, app, err := splitApp(c.inv.args[1])
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	path := appPath(tenant, app) + "/logs"
	if c.inv.tail > 0 {
		path += "?tail=" + strconv.Itoa(c.inv.tail)
	}
	// --follow polls: the API answers the last lines of each pod, so a
	// line already printed for a pod (counting repeats) is not printed
	// again. It runs until interrupted (followRounds bounds it in tests).
	printed := map[string]int{}
	for round := 0; ; round++ {
		var out struct {
			Pods []struct {
				Name  string `json:"name"`
				Phase string `json:"phase"`
				Log   string `json:"log"`
				Error string `json:"error"`
			} `json:"pods"`
		}
		b, err := cl.json("GET", path, nil, &out)
		if err != nil {
			return err
		}
		switch {
		case c.json() && !c.inv.follow:
			c.printJSON(b)
			return nil
		case len(out.Pods) == 0 && !c.inv.follow:
			fmt.Fprintf(c.stderr, "no pods for %s/%s\n", tenant, app)
			return nil
		}
		for _, p := range out.Pods {
			if !c.inv.follow {
				if len(out.Pods) > 1 || p.Error != "" {
					fmt.Fprintf(c.stdout, "==> %s (%s) <==\n", p.Name, p.Phase)
				}
				if p.Error != "" {
					fmt.Fprintf(c.stdout, "(no log: %s)\n", p.Error)
					continue
				}
				fmt.Fprint(c.stdout, p.Log)
				if p.Log != "" && !strings.HasSuffix(p.Log, "\n") {
					fmt.Fprintln(c.stdout)
				}
				continue
			}
			seen := map[string]int{}
			for _, line := range strings.Split(strings.TrimSuffix(p.Log, "\n"), "\n") {
				if line == "" {
					continue
				}
				key := p.Name + "\x00" + line
				seen[key]++
				if seen[key] > printed[key] {
					printed[key] = seen[key]
					fmt.Fprintf(c.stdout, "%s: %s\n", p.Name, line)
				}
			}
		}
		if !c.inv.follow || (c.followRounds > 0 && round+1 >= c.followRounds) {
			return nil
		}
		c.sleep(2 * time.Second)
	}
}

func (c *cli) variablesList() error {
	if err := c.inv.only("variables list"); err != nil {
		return err
	}
	if len(c.inv.args) != 3 {
		return usageError("usage: spinportctl variables list TENANT/APP")
	}
	tenant, app, err := splitApp(c.inv.args[2])
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var out struct {
		Items []variable `json:"items"`
	}
	b, err := cl.json("GET", appPath(tenant, app)+"/variables", nil, &out)
	if err != nil {
		return err
	}
	if c.json() {
		c.printJSON(b)
		return nil
	}
	if len(out.Items) == 0 {
		fmt.Fprintf(c.stdout, "no variables on %s/%s\n", tenant, app)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tUPDATED")
	for _, v := range out.Items {
		val := v.Value
		if v.Secret {
			val = "(secret)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, val, v.UpdatedAt)
	}
	return tw.Flush()
}

func (c *cli) variablesSet() error {
	if err := c.inv.only("variables set", "secret"); err != nil {
		return err
	}
	if len(c.inv.args) != 5 {
		return usageError("usage: spinportctl variables set TENANT/APP NAME VALUE [--secret]")
	}
	tenant, app, err := splitApp(c.inv.args[2])
	if err != nil {
		return err
	}
	name, value := c.inv.args[3], c.inv.args[4]
	if name == "" {
		return usageError("the variable name is empty")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var v variable
	b, status, err := cl.do("PUT", appPath(tenant, app)+"/variables/"+esc(name), map[string]any{"value": value, "secret": c.inv.secret})
	if err != nil {
		return err
	}
	if c.json() {
		c.printJSON(b)
		return nil
	}
	_ = json.Unmarshal(b, &v)
	verb := "updated"
	if status == 201 {
		verb = "set"
	}
	kind := "variable"
	if v.Secret {
		kind = "secret variable"
	}
	fmt.Fprintf(c.stdout, "%s %s %s on %s/%s\n", verb, kind, first(v.Name, name), tenant, app)
	return nil
}

func (c *cli) variablesUnset() error {
	if err := c.inv.only("variables unset"); err != nil {
		return err
	}
	if len(c.inv.args) != 4 {
		return usageError("usage: spinportctl variables unset TENANT/APP NAME")
	}
	tenant, app, err := splitApp(c.inv.args[2])
	if err != nil {
		return err
	}
	name := c.inv.args[3]
	cl, err := c.client()
	if err != nil {
		return err
	}
	if _, _, err := cl.do("DELETE", appPath(tenant, app)+"/variables/"+esc(name), nil); err != nil {
		return err
	}
	if c.json() {
		// 204: the API answers nothing; say what happened as JSON.
		b, _ := json.Marshal(map[string]any{"name": name, "deleted": true})
		c.printJSON(b)
		return nil
	}
	fmt.Fprintf(c.stdout, "unset variable %s on %s/%s\n", name, tenant, app)
	return nil
}
