// Package doh looks up DNS records over HTTPS (RFC 8484), for checks a
// Spin component has to make about custom domains: whether the TXT record
// _spinport-challenge.<host> proves ownership, and whether <host> points
// at the ingress (A, AAAA, CNAME). A Spin component has outbound HTTP and
// no UDP or TCP sockets, so DNS has to go through a DoH resolver such as
// https://1.1.1.1/dns-query or https://dns.google/dns-query (which must be
// in the component's allowed_outbound_hosts).
//
// message.go is a DNS message codec (RFC 1035 wire format) in the
// standard library only, so it builds with TinyGo 0.30: it packs one
// question (optionally with an EDNS0 OPT record, padded per RFC 8467) and
// parses answers with name compression, A, AAAA, CNAME and TXT records,
// skipping other types. It never panics on malformed input: every length
// and pointer is bounds-checked and compression pointers may only point
// backwards, which makes loops impossible.
//
// client.go sends queries (POST, see Exchange), checks that the answer is
// for the question asked, follows CNAME chains in the answer section and
// maps outcomes to errors a caller can act on: *NotFoundError (NXDOMAIN,
// or no record of the type; the fix is at the domain's DNS provider),
// *UnavailableError (resolver unreachable, HTTP 429/5xx, SERVFAIL,
// unreadable answer: Unavailable() is true, the API answers 503) and
// *Error (refusals and misconfiguration that a retry does not change).
//
// The package holds no global state and starts no goroutines.
package doh
