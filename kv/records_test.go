package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/spinport/spinport"
	"github.com/valyala/fastjson"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

// The readers read fields as gjson did before them: these are the answers
// gjson's String, Int, Bool and Array gave for each kind of value.
func TestFieldsReadAsBefore(t *testing.T) {
	for _, c := range []struct {
		json string
		str  string
		num  int64
		flag bool
		strs string
	}{
		{`"x\n\u00e9\u003c"`, "x\né<", 0, false, "[x\né<]"},
		{`""`, "", 0, false, "[]"},
		{`"12"`, "12", 12, false, "[12]"},
		{`"-5"`, "-5", -5, false, "[-5]"},
		{`"1.5"`, "1.5", 0, false, "[1.5]"},
		{`"TRUE"`, "TRUE", 0, true, "[TRUE]"},
		{`"t"`, "t", 0, true, "[t]"},
		{`"yes"`, "yes", 0, false, "[yes]"},
		{`7`, "7", 7, true, "[7]"},
		{`-0`, "-0", 0, false, "[-0]"},
		{`-2.7`, "-2.7", -2, true, "[-2.7]"},
		{`1e3`, "1000", 1000, true, "[1000]"},
		{`2.50`, "2.5", 2, true, "[2.5]"},
		{`9007199254740993`, "9007199254740993", 9007199254740993, true, "[9007199254740993]"},
		{`true`, "true", 1, true, "[true]"},
		{`false`, "false", 0, false, "[false]"},
		{`null`, "", 0, false, "[]"},
		{`[]`, "[]", 0, false, "[]"},
		{`["a",1,null]`, `["a",1,null]`, 0, false, "[a 1 ]"},
		{`{"a":1}`, `{"a":1}`, 0, false, `[{"a":1}]`},
	} {
		var p fastjson.Parser
		r, err := p.Parse(`{"f":` + c.json + `}`)
		if err != nil {
			t.Fatal(err)
		}
		f := r.Get("f")
		if got := str(f); got != c.str {
			t.Errorf("str(%s) = %q, want %q", c.json, got, c.str)
		}
		if got := num(f); got != c.num {
			t.Errorf("num(%s) = %d, want %d", c.json, got, c.num)
		}
		if got := flag(f); got != c.flag {
			t.Errorf("flag(%s) = %v, want %v", c.json, got, c.flag)
		}
		if got := fmt.Sprint(strings(f)); got != c.strs {
			t.Errorf("strings(%s) = %s, want %s", c.json, got, c.strs)
		}
	}
	// A missing field is the zero value, and [] (not nil) as a list.
	if str(nil) != "" || num(nil) != 0 || flag(nil) || strings(nil) == nil || len(strings(nil)) != 0 {
		t.Error("missing field: not the zero value")
	}
}

func TestRecordsRoundTripAll(t *testing.T) {
	ci := &spinport.CIRun{Issuer: "https://token.actions.githubusercontent.com", Repository: "o/r", Ref: "refs/tags/v1", SHA: "abc", Workflow: "w", Run: "7"}
	art := &spinport.Artifact{Components: []string{"a"}, Routes: []string{"/..."}, Variables: []spinport.ArtifactVariable{{Name: "x", Required: true}, {Name: "s", Secret: true}},
		KeyValueStores: []string{"default"}, SQLiteDatabases: []string{}, AllowedOutboundHosts: []string{"https://x"}}
	check := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v (%v)\nwant %+v", name, got, err, want)
		}
	}
	tenant := spinport.Tenant{Slug: "acme", DisplayName: "Acme \"<&>\"", Quotas: spinport.Quotas{MaxApps: 3, MaxReplicasPerApp: 4, MaxTotalReplicas: 5},
		CreatedAt: 17, CreatedBy: "u", ClusterPending: true}
	got1, err := ParseTenant(marshalTenant(tenant))
	check("tenant", got1, tenant, err)
	member := spinport.Member{UserID: "u", Role: spinport.RoleOwner, AddedAt: 3, AddedBy: "v"}
	got2, err := ParseMember(marshalMember(member))
	check("member", got2, member, err)
	user := spinport.User{ID: "i", Issuer: "https://x", Subject: "s", DisplayName: "Dé\u2028", Email: "e@x", CreatedAt: 9}
	got3, err := ParseUser(marshalUser(user))
	check("user", got3, user, err)
	app := benchApp()
	got4, err := ParseApp(marshalApp(app))
	check("app", got4, app, err)
	empty, err := ParseApp(marshalApp(spinport.App{}))
	check("empty app", empty, spinport.App{Domains: []string{}}, err)
	v := spinport.Variable{Name: "n", Value: "line\nline", UpdatedAt: 2}
	got5, err := ParseVariable(marshalVariable(v))
	check("variable", got5, v, err)
	rev := spinport.Revision{Number: 3, Image: "img", Digest: "sha256:a", Source: "ci", GitRef: "r", GitSHA: "s", Actor: "a", CreatedAt: 5,
		State: spinport.StateApplied, Reason: "why", RollbackOf: 1, Cause: "c", Scaling: spinport.Scaling{Replicas: 1, Autoscale: true, MinReplicas: 1, MaxReplicas: 3},
		Variables: []spinport.Variable{{Name: "a", Value: "1"}, {Name: "s", Secret: true}}, Domains: []string{"d"}, KV: true, Artifact: art, CI: ci}
	got6, err := ParseRevision(marshalRevision(rev))
	check("revision", got6, rev, err)
	tok := spinport.Token{ID: "i", Tenant: "t", Name: "n", Scopes: []string{"a", "b"}, App: "x", Hash: "h", CreatedAt: 1, CreatedBy: "c", ExpiresAt: 2, LastUsed: 3, CI: ci}
	got7, err := ParseToken(marshalToken(tok))
	check("token", got7, tok, err)
	ev := spinport.AuditEvent{Seq: 1, Time: 2, Actor: "a", Action: "b", Target: "c", Outcome: "d", Detail: "e"}
	got8, err := ParseAuditEvent(marshalAuditEvent(ev))
	check("audit", got8, ev, err)
	dc := spinport.DomainClaim{Host: "h", Tenant: "t", App: "a", State: "s", Token: "k", VerifiedAt: 1, CheckedAt: 2}
	got9, err := ParseDomainClaim(marshalDomainClaim(dc))
	check("domain claim", got9, dc, err)
	ses := spinport.Session{UserID: "u", CSRF: "c", CreatedAt: 1, ExpiresAt: 2}
	got10, err := ParseSession(marshalSession(ses))
	check("session", got10, ses, err)
	rc := spinport.RegistryCredential{Registry: "r", Username: "u", UpdatedAt: 1, UpdatedBy: "b"}
	got11, err := parseRegistryCredential(marshalRegistryCredential(rc))
	check("registry credential", got11, rc, err)
	pc := spinport.PushCredential{Name: "n", Username: "u", Slot: 2, Expires: 3, CreatedAt: 4, CreatedBy: "c", RotatedAt: 5}
	got12, err := parsePushCredential(marshalPushCredential(pc))
	check("push credential", got12, pc, err)
	// The stored answer comes back byte for byte (it is replayed).
	idem := Idempotency{Hash: "h", Status: 201, Body: []byte(`{"a":[1,"x\u003c\"",{"k\"":null}],"b":1.50}`), Until: 9}
	got13, err := ParseIdempotency(idem.Marshal())
	check("idempotency", got13, idem, err)

	if _, err := ParseApp([]byte(`{"schema":"2"}`)); err == nil || err.Error() != "kv: record written by a newer spinport (schema 2)" {
		t.Errorf("newer schema as a string: %v", err)
	}
	for _, bad := range []string{``, `{"schema":1`, `{"schema":1}x`, `{"a":}`} {
		if _, err := ParseApp([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseApp(%q): %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestEnvelopeKeepsTheDocument(t *testing.T) {
	doc := []byte(`{"schema":1,"s":"\u003c\"\\","n":[1.50,-0,{}],"k\"ey":null}`)
	var p fastjson.Parser
	for _, env := range [][]byte{envelope(4, doc), marker(4, 99, doc)} {
		st, err := openEnvelope(&p, env)
		if err != nil || st.seq != 4 || string(st.doc) != string(doc) || string(st.raw) != string(env) {
			t.Errorf("openEnvelope(%s) = %+v, %v", env, st, err)
		}
	}
	for env, want := range map[string]string{
		`{"seq":1,"doc":`:     "kv: stored record is not valid JSON",
		`{"seq":1}`:           "kv: stored record has no document",
		`{"seq":1,"doc":"x"}`: "kv: stored record has no document",
	} {
		if _, err := openEnvelope(&p, []byte(env)); err == nil || err.Error() != want {
			t.Errorf("openEnvelope(%s): %v, want %s", env, err, want)
		}
	}
}

// A page reuses one parser for its records: each must come out whole, as
// it reads alone, whichever backend lists it.
func TestListAppsMatchesGetApp(t *testing.T) {
	m := NewMemory()
	db := DB{B: m.Backend()}
	for i := 0; i < 6; i++ {
		a := spinport.App{Tenant: "acme", Name: fmt.Sprintf("app%d", i), Scaling: spinport.Scaling{Replicas: int64(i)},
			Domains: make([]string, i), KV: i%2 == 0, CreatedAt: int64(100 + i), CreatedBy: fmt.Sprintf("user%d", i)}
		for j := range a.Domains {
			a.Domains[j] = fmt.Sprintf("d%d-%d.example.com", i, j)
		}
		if err := db.CreateApp(a, spinport.Quotas{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []Backend{m.Backend(), byKey(m)} {
		db := DB{B: b}
		apps, _, err := db.ListApps("acme", "", 10)
		if err != nil || len(apps) != 6 {
			t.Fatalf("%s: listed %d apps (%v)", b.Name, len(apps), err)
		}
		for _, a := range apps {
			if one, err := db.GetApp("acme", a.Name); err != nil || !reflect.DeepEqual(one, a) {
				t.Errorf("%s: listed %+v, GetApp %+v (%v)", b.Name, a, one, err)
			}
		}
	}
}

func benchApp() spinport.App {
	return spinport.App{Tenant: "acme", Name: "checkout-service", Scaling: spinport.Scaling{Replicas: 2, MinReplicas: 1, MaxReplicas: 4},
		Domains: []string{"shop.example.com", "checkout.example.org"}, KV: true, CreatedAt: 1735689600, UpdatedAt: 1735776000,
		CreatedBy: "user-6f1c2d"}
}

// BenchmarkParseApp reads one app record, as GetApp does. Under TinyGo:
// TINYGO_TEST_FLAGS="-run ^$ -bench ParseApp -gc=leaking" hack/tinygo-test.sh ./kv
// In a leaking-GC instance allocation costs more than parsing (fresh
// memory is slow to touch): watch B/op as much as ns/op.
func BenchmarkParseApp(b *testing.B) {
	doc := marshalApp(benchApp())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseApp(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAppListed is the cost of one app on a list page
// (GET /api/v1/tenants/{t}/apps): its collection envelope and its record,
// read with the page's parsers.
func BenchmarkParseAppListed(b *testing.B) {
	env := envelope(42, marshalApp(benchApp()))
	var pe, pr fastjson.Parser
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st, err := openEnvelope(&pe, env)
		if err != nil {
			b.Fatal(err)
		}
		r, err := parse(&pr, st.doc)
		if err != nil {
			b.Fatal(err)
		}
		_ = readApp(r)
	}
}
