package armfake

// In-memory Azure DNS record sets behind the SDK's RecordSetsServer fake.
// Semantics reproduced from the Azure DNS documentation of record sets
// (etags, If-Match / If-None-Match, CNAME exclusivity); error codes and
// messages are the fake's own wording unless noted.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns"
	dnsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns/fake"
)

type recordEntry struct {
	sub, rg, zone, name string
	typ                 armdns.RecordType
	rs                  armdns.RecordSet
}

// AddZone creates an (empty) DNS zone.
func (s *Server) AddZone(subscription, resourceGroup, zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[key(subscription, resourceGroup, zone)] = true
}

// PutRecord stores a record set directly, as someone other than the
// client under test would have (no etag check). It returns the etag.
func (s *Server) PutRecord(subscription, resourceGroup, zone, name string, typ armdns.RecordType, props armdns.RecordSetProperties) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.storeRecord(subscription, resourceGroup, zone, name, typ, props)
	return *e.rs.Etag
}

// Record returns a stored record set.
func (s *Server) Record(subscription, resourceGroup, zone, name string, typ armdns.RecordType) (armdns.RecordSet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.records[key(subscription, resourceGroup, zone, string(typ), name)]
	if !ok {
		return armdns.RecordSet{}, false
	}
	return e.rs, true
}

// storeRecord (callers hold mu) stores props with a new etag.
func (s *Server) storeRecord(sub, rg, zone, name string, typ armdns.RecordType, props armdns.RecordSetProperties) *recordEntry {
	zone, name = strings.ToLower(zone), strings.ToLower(name)
	props.Fqdn = to.Ptr(strings.TrimPrefix(name+".", "@.") + zone + ".")
	props.ProvisioningState = to.Ptr("Succeeded")
	e := &recordEntry{sub: strings.ToLower(sub), rg: rg, zone: zone, name: name, typ: typ, rs: armdns.RecordSet{
		ID:         to.Ptr(fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnszones/%s/%s/%s", sub, rg, zone, typ, name)),
		Name:       to.Ptr(name),
		Type:       to.Ptr("Microsoft.Network/dnszones/" + string(typ)),
		Etag:       to.Ptr(fmt.Sprintf("%08x-0000-0000-0000-%012x", s.nextID(), s.n)),
		Properties: &props,
	}}
	s.records[key(sub, rg, zone, string(typ), name)] = e
	return e
}

func (s *Server) recordSetsServer() dnsfake.RecordSetsServer {
	return dnsfake.RecordSetsServer{
		CreateOrUpdate: func(ctx context.Context, rg, zone, name string, typ armdns.RecordType, params armdns.RecordSet, o *armdns.RecordSetsClientCreateOrUpdateOptions) (resp azfake.Responder[armdns.RecordSetsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkZone(sub, rg, zone); f != nil {
				errResp.SetError(f)
				return
			}
			cur, exists := s.records[key(sub, rg, zone, string(typ), name)]
			var ifMatch, ifNoneMatch *string
			if o != nil {
				ifMatch, ifNoneMatch = o.IfMatch, o.IfNoneMatch
			}
			if f := preconditions(cur, exists, ifMatch, ifNoneMatch, name); f != nil {
				errResp.SetError(f)
				return
			}
			if params.Properties == nil {
				errResp.SetError(&Fault{http.StatusBadRequest, "BadRequest", "The request body has no properties."})
				return
			}
			if f := s.checkRecordSet(sub, rg, zone, name, typ, *params.Properties); f != nil {
				errResp.SetError(f)
				return
			}
			e := s.storeRecord(sub, rg, zone, name, typ, *params.Properties)
			status := http.StatusCreated
			if exists {
				status = http.StatusOK
			}
			resp.SetResponse(status, armdns.RecordSetsClientCreateOrUpdateResponse{RecordSet: e.rs}, nil)
			return
		},
		Get: func(ctx context.Context, rg, zone, name string, typ armdns.RecordType, _ *armdns.RecordSetsClientGetOptions) (resp azfake.Responder[armdns.RecordSetsClientGetResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkZone(sub, rg, zone); f != nil {
				errResp.SetError(f)
				return
			}
			e, ok := s.records[key(sub, rg, zone, string(typ), name)]
			if !ok {
				errResp.SetError(&Fault{http.StatusNotFound, "NotFound", fmt.Sprintf("The resource record '%s' does not exist in resource group '%s' of subscription '%s'.", name, rg, sub)})
				return
			}
			resp.SetResponse(http.StatusOK, armdns.RecordSetsClientGetResponse{RecordSet: e.rs}, nil)
			return
		},
		Delete: func(ctx context.Context, rg, zone, name string, typ armdns.RecordType, o *armdns.RecordSetsClientDeleteOptions) (resp azfake.Responder[armdns.RecordSetsClientDeleteResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkZone(sub, rg, zone); f != nil {
				errResp.SetError(f)
				return
			}
			k := key(sub, rg, zone, string(typ), name)
			cur, exists := s.records[k]
			if !exists {
				resp.SetResponse(http.StatusNoContent, armdns.RecordSetsClientDeleteResponse{}, nil)
				return
			}
			var ifMatch *string
			if o != nil {
				ifMatch = o.IfMatch
			}
			if f := preconditions(cur, exists, ifMatch, nil, name); f != nil {
				errResp.SetError(f)
				return
			}
			delete(s.records, k)
			resp.SetResponse(http.StatusOK, armdns.RecordSetsClientDeleteResponse{}, nil)
			return
		},
		NewListByTypePager: func(rg, zone string, typ armdns.RecordType, _ *armdns.RecordSetsClientListByTypeOptions) (resp azfake.PagerResponder[armdns.RecordSetsClientListByTypeResponse]) {
			resp.AddPage(http.StatusOK, armdns.RecordSetsClientListByTypeResponse{RecordSetListResult: armdns.RecordSetListResult{Value: s.listRecords(rg, zone, typ)}}, nil)
			return
		},
		NewListByDNSZonePager: func(rg, zone string, _ *armdns.RecordSetsClientListByDNSZoneOptions) (resp azfake.PagerResponder[armdns.RecordSetsClientListByDNSZoneResponse]) {
			resp.AddPage(http.StatusOK, armdns.RecordSetsClientListByDNSZoneResponse{RecordSetListResult: armdns.RecordSetListResult{Value: s.listRecords(rg, zone, "")}}, nil)
			return
		},
	}
}

// listRecords lists a zone's record sets (of one type unless typ is "").
// The pager fakes get no context, so the subscription is not checked:
// tests use one subscription per zone name.
func (s *Server) listRecords(rg, zone string, typ armdns.RecordType) []*armdns.RecordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*armdns.RecordSet
	var keys []string
	for k := range s.records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := s.records[k]
		if strings.EqualFold(e.rg, rg) && e.zone == strings.ToLower(zone) && (typ == "" || e.typ == typ) {
			rs := e.rs
			out = append(out, &rs)
		}
	}
	return out
}

func (s *Server) checkZone(sub, rg, zone string) *Fault {
	if !s.zones[key(sub, rg, zone)] {
		return &Fault{http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf("Can not perform requested operation on nested resource. Parent resource '%s' not found.", zone)}
	}
	return nil
}

// preconditions applies If-Match and If-None-Match: "*" means "exists"
// and "does not exist"; anything else is an etag.
func preconditions(cur *recordEntry, exists bool, ifMatch, ifNoneMatch *string, name string) *Fault {
	if ifNoneMatch != nil && *ifNoneMatch == "*" && exists {
		return &Fault{http.StatusPreconditionFailed, "PreconditionFailed", fmt.Sprintf("The Record set %s exists already and hence cannot be created again.", name)}
	}
	if ifMatch != nil && *ifMatch != "" {
		if !exists {
			return &Fault{http.StatusPreconditionFailed, "PreconditionFailed", fmt.Sprintf("The Record set %s does not exist (If-Match).", name)}
		}
		if *ifMatch != "*" && strings.Trim(*ifMatch, `"`) != *cur.rs.Etag {
			return &Fault{http.StatusPreconditionFailed, "PreconditionFailed", fmt.Sprintf("The Record set %s has been modified (etag mismatch).", name)}
		}
	}
	return nil
}

// checkRecordSet: TTL present, records of the URL's type only, CNAME
// alone at its name and holding one target.
func (s *Server) checkRecordSet(sub, rg, zone, name string, typ armdns.RecordType, p armdns.RecordSetProperties) *Fault {
	bad := func(msg string) *Fault { return &Fault{http.StatusBadRequest, "BadRequest", msg} }
	if p.TTL == nil {
		return bad("The TTL property is required.")
	}
	n := map[armdns.RecordType]int{
		armdns.RecordTypeA: len(p.ARecords), armdns.RecordTypeAAAA: len(p.AaaaRecords), armdns.RecordTypeTXT: len(p.TxtRecords),
		armdns.RecordTypeMX: len(p.MxRecords), armdns.RecordTypeNS: len(p.NsRecords), armdns.RecordTypeSRV: len(p.SrvRecords),
		armdns.RecordTypePTR: len(p.PtrRecords), armdns.RecordTypeCAA: len(p.CaaRecords),
	}
	if p.CnameRecord != nil {
		n[armdns.RecordTypeCNAME] = 1
	}
	for t, c := range n {
		if c > 0 && t != typ {
			return bad(fmt.Sprintf("The record set of type %s must not hold %s records.", typ, t))
		}
	}
	switch typ {
	case armdns.RecordTypeCNAME:
		if p.CnameRecord == nil || p.CnameRecord.Cname == nil || *p.CnameRecord.Cname == "" {
			return bad("A CNAME record set needs a cname.")
		}
	case armdns.RecordTypeA:
		for _, a := range p.ARecords {
			if a == nil || a.IPv4Address == nil {
				return bad("An A record needs an ipv4Address.")
			}
		}
	case armdns.RecordTypeTXT:
		for _, r := range p.TxtRecords {
			if r == nil {
				return bad("An empty TXT record.")
			}
			for _, v := range r.Value {
				if v == nil || len(*v) > 255 {
					return bad("A TXT record's strings must be at most 255 characters.")
				}
			}
		}
	}
	// CNAME exclusivity (RFC 1034 §3.6.2; Azure DNS enforces it with 409).
	for _, t := range armdns.PossibleRecordTypeValues() {
		if t == typ {
			continue
		}
		if typ == armdns.RecordTypeCNAME || t == armdns.RecordTypeCNAME {
			if _, ok := s.records[key(sub, rg, zone, string(t), name)]; ok {
				return &Fault{http.StatusConflict, "Conflict", fmt.Sprintf("The record set %s conflicts with an existing %s record set (CNAME records cannot share a name).", name, t)}
			}
		}
	}
	return nil
}
