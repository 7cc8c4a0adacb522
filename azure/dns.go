package azure

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

const (
	// DNSAPIVersion is the Azure DNS api-version (the one armdns v1.2.0
	// sends; the current stable version of Microsoft.Network/dnsZones).
	DNSAPIVersion = "2018-05-01"

	// DefaultTTL is the TTL of record sets when DNS.TTL is zero.
	DefaultTTL = 300

	// ManagedByKey and ManagedByValue in a record set's metadata mark it
	// as spinport's; OwnerKey names which tenant/app it belongs to.
	ManagedByKey   = "managedBy"
	ManagedByValue = "spinport"
	OwnerKey       = "owner"

	maxTXTChunk = 255 // a TXT character-string holds at most 255 bytes
	maxRecords  = 20
)

// RecordType is a DNS record set type spinport manages.
type RecordType string

const (
	RecordA     RecordType = "A"
	RecordCNAME RecordType = "CNAME"
	RecordTXT   RecordType = "TXT"
)

// Zone is an Azure DNS zone.
type Zone struct {
	Subscription  string // subscription ID
	ResourceGroup string
	Name          string // e.g. "apps.example.com"
}

// RecordSet is an Azure DNS record set as spinport sees it.
type RecordSet struct {
	Name     string // relative name, "@" for the apex
	Type     RecordType
	TTL      int64
	Values   []string          // A: IPv4 addresses; CNAME: one host name; TXT: one string per record
	Metadata map[string]string // ownership: ManagedByKey, OwnerKey
	Etag     string
	FQDN     string
	ID       string
}

// OwnedBy reports whether the record set's metadata says spinport made it
// for owner.
func (r RecordSet) OwnedBy(owner string) bool {
	return r.Metadata[ManagedByKey] == ManagedByValue && owner != "" && r.Metadata[OwnerKey] == owner
}

// ConflictError means a resource exists that spinport does not own (or
// another owner does), so spinport left it alone. The API layer answers
// 409.
type ConflictError struct {
	Resource string // e.g. `DNS record set A "www" in zone apps.example.com`
	Reason   string // what is in the way and what to do
}

func (e *ConflictError) Error() string { return "azure: " + e.Resource + ": " + e.Reason }

// Conflict marks the error for the API layer (409).
func (e *ConflictError) Conflict() bool { return true }

// DNS manages record sets in Azure DNS zones through ARM.
type DNS struct {
	ARM *Client
	TTL int64 // 0 means DefaultTTL
}

func (d *DNS) ttl() int64 {
	if d.TTL <= 0 {
		return DefaultTTL
	}
	return d.TTL
}

func recordPath(z Zone, name string, t RecordType) (string, error) {
	switch t {
	case RecordA, RecordCNAME, RecordTXT:
	default:
		return "", errors.New("azure: DNS record type must be A, CNAME or TXT, got " + strconv.Quote(clip(string(t), 16)))
	}
	if !validRecordName(name) {
		return "", errors.New("azure: DNS record name " + strconv.Quote(clip(name, 64)) + " is not a relative name (labels of letters, digits, '-', '_', '*', separated by '.'; or @ for the apex)")
	}
	if !validRecordName(z.Name) || z.Name == "@" {
		return "", errors.New("azure: DNS zone name " + strconv.Quote(clip(z.Name, 64)) + " is not a domain name")
	}
	return ResourcePath("subscriptions", z.Subscription, "resourceGroups", z.ResourceGroup,
		"providers", "Microsoft.Network", "dnsZones", strings.ToLower(z.Name), string(t), strings.ToLower(name))
}

func describe(z Zone, name string, t RecordType) string {
	return "DNS record set " + string(t) + " " + strconv.Quote(name) + " in zone " + z.Name
}

// GetRecord returns the record set; found is false when it does not exist.
// A missing zone is an error (ARM's ParentResourceNotFound), not "not
// found".
func (d *DNS) GetRecord(z Zone, name string, t RecordType) (rs RecordSet, found bool, err error) {
	p, err := recordPath(z, name, t)
	if err != nil {
		return RecordSet{}, false, err
	}
	resp, err := d.ARM.Do(Request{Method: http.MethodGet, Path: p, APIVersion: DNSAPIVersion})
	if err != nil {
		if e, ok := err.(*Error); ok && e.Status == http.StatusNotFound && e.Code != "ParentResourceNotFound" && e.Code != "ResourceGroupNotFound" && e.Code != "SubscriptionNotFound" {
			return RecordSet{}, false, nil
		}
		return RecordSet{}, false, err
	}
	rs, err = parseRecordSet(resp.Body, t)
	if err != nil {
		return RecordSet{}, false, err
	}
	if rs.Etag == "" {
		rs.Etag = strings.Trim(resp.Header.Get("ETag"), `"`)
	}
	return rs, true, nil
}

// EnsureRecord makes the record set hold values (with DNS.TTL): it creates
// it when absent (If-None-Match: *), updates it when spinport made it for
// the same owner (If-Match: its etag), and leaves it alone with a
// *ConflictError when it exists and is not owner's. owner names the
// tenant/app, e.g. "acme/web".
func (d *DNS) EnsureRecord(z Zone, name string, t RecordType, values []string, owner string) (RecordSet, error) {
	p, err := recordPath(z, name, t)
	if err != nil {
		return RecordSet{}, err
	}
	if owner == "" || len(owner) > 256 {
		return RecordSet{}, errors.New("azure: EnsureRecord needs an owner (tenant/app) of at most 256 bytes")
	}
	values, err = normalizeValues(t, values)
	if err != nil {
		return RecordSet{}, err
	}
	body := recordBody(t, d.ttl(), values, owner)
	// Two rounds: a 412 means someone changed the record between our GET
	// and PUT; look again once, then give up with a conflict.
	for round := 0; round < 2; round++ {
		cur, found, err := d.GetRecord(z, name, t)
		if err != nil {
			return RecordSet{}, err
		}
		req := Request{Method: http.MethodPut, Path: p, APIVersion: DNSAPIVersion, Body: body}
		if !found {
			req.IfNoneMatch = "*"
		} else {
			if !cur.OwnedBy(owner) {
				return RecordSet{}, notOurs(z, name, t, cur)
			}
			if cur.TTL == d.ttl() && sameValues(cur.Values, values) {
				return cur, nil // nothing to change: no write
			}
			if cur.Etag == "" {
				return RecordSet{}, errors.New("azure: " + describe(z, name, t) + ": ARM sent no etag, so it cannot be updated safely")
			}
			req.IfMatch = cur.Etag
		}
		resp, err := d.ARM.Do(req)
		if err != nil {
			if IsPreconditionFailed(err) {
				continue
			}
			return RecordSet{}, err
		}
		return parseRecordSet(resp.Body, t)
	}
	return RecordSet{}, &ConflictError{Resource: describe(z, name, t),
		Reason: "the record set exists and is not spinport's, or it changed while spinport was writing it (HTTP 412 Precondition Failed); check who manages it, delete it or choose another name"}
}

func notOurs(z Zone, name string, t RecordType, cur RecordSet) *ConflictError {
	reason := "the record set exists and is not spinport's (its metadata has no " + ManagedByKey + "=" + ManagedByValue + "); delete it in Azure or choose another name"
	if cur.Metadata[ManagedByKey] == ManagedByValue {
		reason = "the record set belongs to another spinport app (" + OwnerKey + "=" + strconv.Quote(clip(cur.Metadata[OwnerKey], 128)) + "); choose another name"
	}
	return &ConflictError{Resource: describe(z, name, t), Reason: reason}
}

// DeleteRecord deletes the record set if spinport made it for owner (with
// If-Match: its etag). An absent record set is fine; one that is not
// owner's is a *ConflictError and stays.
func (d *DNS) DeleteRecord(z Zone, name string, t RecordType, owner string) error {
	p, err := recordPath(z, name, t)
	if err != nil {
		return err
	}
	for round := 0; round < 2; round++ {
		cur, found, err := d.GetRecord(z, name, t)
		if err != nil || !found {
			return err
		}
		if !cur.OwnedBy(owner) {
			return notOurs(z, name, t, cur)
		}
		_, err = d.ARM.Do(Request{Method: http.MethodDelete, Path: p, APIVersion: DNSAPIVersion, IfMatch: cur.Etag})
		switch {
		case err == nil, IsNotFound(err):
			return nil
		case IsPreconditionFailed(err):
			continue // changed since our GET: look again
		default:
			return err
		}
	}
	return &ConflictError{Resource: describe(z, name, t), Reason: "the record set kept changing while spinport was deleting it (HTTP 412 Precondition Failed); retry"}
}

// recordBody is the PUT body: TTL, the records and spinport's metadata.
func recordBody(t RecordType, ttl int64, values []string, owner string) []byte {
	var w jsonw.W
	w.Object().Key("properties").Object()
	w.Key("metadata").Object().Str(ManagedByKey, ManagedByValue).Str(OwnerKey, owner).End()
	w.Num("TTL", ttl)
	switch t {
	case RecordA:
		w.Key("ARecords").Array()
		for _, v := range values {
			w.Object().Str("ipv4Address", v).End()
		}
		w.End()
	case RecordCNAME:
		w.Key("CNAMERecord").Object().Str("cname", values[0]).End()
	case RecordTXT:
		w.Key("TXTRecords").Array()
		for _, v := range values {
			w.Object().Key("value").Array()
			for _, chunk := range txtChunks(v) {
				w.String(chunk)
			}
			w.End().End()
		}
		w.End()
	}
	return w.End().End().Bytes()
}

// parseRecordSet reads ARM's record set JSON.
func parseRecordSet(b []byte, t RecordType) (RecordSet, error) {
	v, err := fastjson.ParseBytes(b)
	if err != nil || v.Type() != fastjson.TypeObject || !jsonw.Shallow(b, jsonw.MaxDepth) {
		return RecordSet{}, errors.New("azure: ARM's record set answer is not a JSON object")
	}
	rs := RecordSet{
		Name: string(v.GetStringBytes("name")),
		Type: t,
		Etag: string(v.GetStringBytes("etag")),
		ID:   string(v.GetStringBytes("id")),
		TTL:  v.GetInt64("properties", "TTL"),
		FQDN: string(v.GetStringBytes("properties", "fqdn")),
	}
	if o := v.GetObject("properties", "metadata"); o != nil {
		rs.Metadata = map[string]string{}
		o.Visit(func(k []byte, mv *fastjson.Value) {
			if mv.Type() == fastjson.TypeString {
				rs.Metadata[string(k)] = string(mv.GetStringBytes())
			}
		})
	}
	switch t {
	case RecordA:
		for _, a := range v.GetArray("properties", "ARecords") {
			rs.Values = append(rs.Values, string(a.GetStringBytes("ipv4Address")))
		}
	case RecordCNAME:
		if c := string(v.GetStringBytes("properties", "CNAMERecord", "cname")); c != "" {
			rs.Values = []string{c}
		}
	case RecordTXT:
		for _, r := range v.GetArray("properties", "TXTRecords") {
			var s strings.Builder
			for _, chunk := range r.GetArray("value") {
				s.Write(chunk.GetStringBytes())
			}
			rs.Values = append(rs.Values, s.String())
		}
	}
	return rs, nil
}

// normalizeValues checks values for the type: IPv4 addresses for A, one
// host name for CNAME, printable ASCII for TXT.
func normalizeValues(t RecordType, values []string) ([]string, error) {
	if len(values) == 0 || len(values) > maxRecords {
		return nil, errors.New("azure: a " + string(t) + " record set needs 1 to " + strconv.Itoa(maxRecords) + " values")
	}
	out := make([]string, 0, len(values))
	for _, v := range values {
		switch t {
		case RecordA:
			if !validIPv4(v) {
				return nil, errors.New("azure: " + strconv.Quote(clip(v, 64)) + " is not an IPv4 address (A record)")
			}
		case RecordCNAME:
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			if len(values) != 1 || !validHostName(v) {
				return nil, errors.New("azure: a CNAME record set holds exactly one host name, got " + strconv.Quote(clip(strings.Join(values, ","), 128)))
			}
		case RecordTXT:
			if len(v) > 4096 {
				return nil, errors.New("azure: a TXT value must be at most 4096 bytes")
			}
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					return nil, errors.New("azure: a TXT value must be printable ASCII")
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// txtChunks splits a TXT value into the ≤255-byte strings Azure DNS stores.
func txtChunks(v string) []string {
	if v == "" {
		return []string{""}
	}
	var out []string
	for len(v) > maxTXTChunk {
		out = append(out, v[:maxTXTChunk])
		v = v[maxTXTChunk:]
	}
	return append(out, v)
}

func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if !strings.EqualFold(x[i], y[i]) {
			return false
		}
	}
	return true
}

func validIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return false
		}
	}
	return true
}

// validRecordName: a relative DNS name (or "@"); '*' only as a whole label.
func validRecordName(s string) bool {
	if s == "@" {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		if label == "*" {
			continue
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func validHostName(s string) bool {
	return s != "@" && !strings.Contains(s, "*") && validRecordName(s)
}
