package azure

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// fakeDNS stores record sets by path and answers like Azure DNS does to
// conditional requests (ETags, 412, 404).
type fakeDNS struct {
	sets  map[string]string // path -> properties JSON
	etags map[string]string
	n     int
}

func (f *fakeDNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	cur, exists := f.sets[p]
	precond := func() bool {
		if m := r.Header.Get("If-Match"); m != "" && (!exists || m != f.etags[p]) {
			return false
		}
		if r.Header.Get("If-None-Match") == "*" && exists {
			return false
		}
		return true
	}
	fail := func(status int, code string) {
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"code":"` + code + `","message":"` + code + ` for ` + p + `"}}`))
	}
	switch r.Method {
	case "GET":
		if !exists {
			fail(404, "NotFound")
			return
		}
		w.Write([]byte(`{"name":"x","etag":"` + f.etags[p] + `","properties":` + cur + `}`))
	case "PUT":
		if !precond() {
			fail(412, "PreconditionFailed")
			return
		}
		b, _ := io.ReadAll(r.Body)
		v, err := fastjson.ParseBytes(b)
		if err != nil {
			fail(400, "BadRequest")
			return
		}
		f.n++
		f.sets[p] = v.Get("properties").String()
		f.etags[p] = "etag-" + strconv.Itoa(f.n)
		if exists {
			w.WriteHeader(200)
		} else {
			w.WriteHeader(201)
		}
		w.Write([]byte(`{"etag":"` + f.etags[p] + `","properties":` + f.sets[p] + `}`))
	case "DELETE":
		if !exists {
			w.WriteHeader(204)
			return
		}
		if !precond() {
			fail(412, "PreconditionFailed")
			return
		}
		delete(f.sets, p)
		w.WriteHeader(200)
	}
}

var zone = Zone{Subscription: "sub-1", ResourceGroup: "rg", Name: "apps.example.com"}

func newDNS() (*DNS, *fakeDNS, *handlerDoer) {
	f := &fakeDNS{sets: map[string]string{}, etags: map[string]string{}}
	c, d := newARM(f.ServeHTTP, nil)
	return &DNS{ARM: c}, f, d
}

func TestEnsureRecordCreateUpdateDelete(t *testing.T) {
	dns, f, d := newDNS()
	rs, err := dns.EnsureRecord(zone, "web", RecordA, []string{"10.0.0.1"}, "acme/web")
	if err != nil {
		t.Fatal(err)
		return
	}
	if rs.TTL != 300 || len(rs.Values) != 1 || rs.Values[0] != "10.0.0.1" || !rs.OwnedBy("acme/web") {
		t.Errorf("rs = %+v", rs)
	}
	reqs := d.requests()
	put := reqs[len(reqs)-1]
	if put.Method != "PUT" || put.Header.Get("If-None-Match") != "*" || put.Header.Get("If-Match") != "" ||
		put.Path != "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Network/dnsZones/apps.example.com/A/web" || put.RawQuery != "api-version=2018-05-01" {
		t.Errorf("create = %+v", put)
	}
	if put.Body != `{"properties":{"metadata":{"managedBy":"spinport","owner":"acme/web"},"TTL":300,"ARecords":[{"ipv4Address":"10.0.0.1"}]}}` {
		t.Errorf("body = %s", put.Body)
	}

	// Same values: no write.
	before := len(d.requests())
	if _, err := dns.EnsureRecord(zone, "web", RecordA, []string{"10.0.0.1"}, "acme/web"); err != nil || len(d.requests()) != before+1 {
		t.Errorf("unchanged record rewritten: %v, %d requests", err, len(d.requests())-before)
	}
	// New values: update with If-Match.
	if _, err := dns.EnsureRecord(zone, "web", RecordA, []string{"10.0.0.2", "10.0.0.3"}, "acme/web"); err != nil {
		t.Fatal(err)
		return
	}
	reqs = d.requests()
	if put := reqs[len(reqs)-1]; put.Header.Get("If-Match") != "etag-1" || put.Header.Get("If-None-Match") != "" {
		t.Errorf("update = %+v", put.Header)
	}
	// Another owner may neither update nor delete it.
	_, err = dns.EnsureRecord(zone, "web", RecordA, []string{"10.0.0.9"}, "evil/app")
	if c, ok := err.(*ConflictError); !ok || !c.Conflict() || !contains(err.Error(), "another spinport app") {
		t.Errorf("other owner: %v", err)
	}
	if err := dns.DeleteRecord(zone, "web", RecordA, "evil/app"); err == nil {
		t.Error("other owner deleted")
	}
	if err := dns.DeleteRecord(zone, "web", RecordA, "acme/web"); err != nil {
		t.Fatal(err)
		return
	}
	reqs = d.requests()
	if del := reqs[len(reqs)-1]; del.Method != "DELETE" || del.Header.Get("If-Match") != "etag-2" {
		t.Errorf("delete = %+v", del)
	}
	if len(f.sets) != 0 {
		t.Errorf("left %v", f.sets)
	}
	// Absent: fine.
	if err := dns.DeleteRecord(zone, "web", RecordA, "acme/web"); err != nil {
		t.Errorf("absent delete: %v", err)
	}
}

func TestEnsureRecordNotSpinports(t *testing.T) {
	dns, f, _ := newDNS()
	p := "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Network/dnsZones/apps.example.com/CNAME/www"
	f.sets[p] = `{"TTL":3600,"CNAMERecord":{"cname":"elsewhere.example.net"}}`
	f.etags[p] = "e0"
	_, err := dns.EnsureRecord(zone, "www", RecordCNAME, []string{"x.example.org"}, "acme/web")
	if c, ok := err.(*ConflictError); !ok || !contains(c.Error(), "is not spinport's") {
		t.Errorf("err = %v", err)
	}
	if err := dns.DeleteRecord(zone, "www", RecordCNAME, "acme/web"); err == nil {
		t.Error("foreign record deleted")
	}
	if rs, found, err := dns.GetRecord(zone, "www", RecordCNAME); err != nil || !found || rs.Values[0] != "elsewhere.example.net" || rs.TTL != 3600 || rs.Etag != "e0" {
		t.Errorf("GetRecord = %+v %v %v", rs, found, err)
	}
}

// A record created by someone else between GET and PUT: 412 on the
// If-None-Match: * PUT, then the second look finds a foreign record.
func TestEnsureRecordRace(t *testing.T) {
	f := &fakeDNS{sets: map[string]string{}, etags: map[string]string{}}
	p := "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Network/dnsZones/apps.example.com/TXT/_verify"
	gets := 0
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			gets++
			if gets == 1 {
				w.WriteHeader(404)
				w.Write([]byte(`{"error":{"code":"NotFound","message":"no"}}`))
				return
			}
		}
		if r.Method == "PUT" && gets == 1 {
			f.sets[p] = `{"TTL":60,"TXTRecords":[{"value":["theirs"]}]}`
			f.etags[p] = "e9"
		}
		f.ServeHTTP(w, r)
	}, nil)
	dns := &DNS{ARM: c}
	_, err := dns.EnsureRecord(zone, "_verify", RecordTXT, []string{"ours"}, "acme/web")
	if _, ok := err.(*ConflictError); !ok {
		t.Errorf("err = %T %v", err, err)
	}
}

func TestRecordBodiesAndValidation(t *testing.T) {
	long := strings.Repeat("a", 300)
	b := string(recordBody(RecordTXT, 60, []string{"v=1", long}, "t/a"))
	if b != `{"properties":{"metadata":{"managedBy":"spinport","owner":"t/a"},"TTL":60,"TXTRecords":[{"value":["v=1"]},{"value":["`+long[:255]+`","`+long[255:]+`"]}]}}` {
		t.Errorf("TXT body = %s", b)
	}
	if b := string(recordBody(RecordCNAME, 300, []string{"app.example.net"}, "t/a")); !contains(b, `"CNAMERecord":{"cname":"app.example.net"}`) {
		t.Errorf("CNAME body = %s", b)
	}
	rs, err := parseRecordSet([]byte(`{"etag":"e","properties":{"TTL":60,"TXTRecords":[{"value":["`+long[:255]+`","`+long[255:]+`"]}],"metadata":{"managedBy":"spinport","owner":"t/a"}}}`), RecordTXT)
	if err != nil || len(rs.Values) != 1 || rs.Values[0] != long || !rs.OwnedBy("t/a") {
		t.Errorf("parse = %+v %v", rs, err)
	}
	dns, _, d := newDNS()
	for _, tc := range []struct {
		name   string
		t      RecordType
		values []string
	}{
		{"web", RecordA, []string{"10.0.0.256"}},
		{"web", RecordA, []string{"::1"}},
		{"web", RecordA, nil},
		{"web", RecordCNAME, []string{"a.example", "b.example"}},
		{"web", "MX", []string{"x"}},
		{"../x", RecordA, []string{"10.0.0.1"}},
		{"a/b", RecordA, []string{"10.0.0.1"}},
		{"web", RecordTXT, []string{"line\nbreak"}},
	} {
		if _, err := dns.EnsureRecord(zone, tc.name, tc.t, tc.values, "t/a"); err == nil {
			t.Errorf("accepted %v", tc)
		}
	}
	if _, err := dns.EnsureRecord(zone, "web", RecordA, []string{"10.0.0.1"}, ""); err == nil {
		t.Error("empty owner accepted")
	}
	if n := len(d.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}

func TestGetRecordMissingZoneIsAnError(t *testing.T) {
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		w.Write([]byte(`{"error":{"code":"ParentResourceNotFound","message":"Can not perform requested operation on nested resource. Parent resource 'apps.example.com' not found."}}`))
	}, nil)
	_, found, err := (&DNS{ARM: c}).GetRecord(zone, "web", RecordA)
	if found || err == nil || !contains(err.Error(), "ParentResourceNotFound") {
		t.Errorf("found %v, err %v", found, err)
	}
}
