package kv

import "strconv"

// Every key spinport writes starts with "sp/" (Spin's Redis provider shares
// one keyspace per database). Names are DNS-1123 labels, host names or hex
// digests, so they never contain "/". docs/kv-schema.md lists them all.
const root = "sp/"

func tenantsPrefix() string              { return root + "tenants" }
func tenantPrefix(t string) string       { return root + "t/" + t }
func membersPrefix(t string) string      { return tenantPrefix(t) + "/members" }
func appsPrefix(t string) string         { return tenantPrefix(t) + "/apps" }
func tokensPrefix(t string) string       { return tenantPrefix(t) + "/tokens" }
func registriesPrefix(t string) string   { return tenantPrefix(t) + "/registries" }
func pushPrefix(t string) string         { return tenantPrefix(t) + "/push" }
func auditPrefix(t string) string        { return tenantPrefix(t) + "/audit" }
func appCountKey(t string) string        { return tenantPrefix(t) + "/count/apps" }
func replicaCountKey(t string) string    { return tenantPrefix(t) + "/count/replicas" }
func appPrefix(t, a string) string       { return tenantPrefix(t) + "/a/" + a }
func varsPrefix(t, a string) string      { return appPrefix(t, a) + "/vars" }
func revisionsPrefix(t, a string) string { return appPrefix(t, a) + "/rev" }

// dedupeKey maps an image digest to the app's one revision of it.
func dedupeKey(t, a, digest string) string { return appPrefix(t, a) + "/digest/" + digestHex(digest) }

func userKey(id string) string { return root + "user/" + id }
func identityKey(issuer, subject string) string {
	return root + "idp/" + digestHex(issuer+"\x00"+subject)
}
func userTenantsPrefix(id string) string { return root + "user/" + id + "/tenants" }
func tokenRefKey(id string) string       { return root + "tokenref/" + id }
func redisDBKey(tenant string) string    { return root + "redisdb/tenant/" + tenant }

// A tenant's own Redis (kv/tenantredis.go): the record, one claim per
// database naming its app, and each app's database.
func tenantRedisKey(t string) string { return tenantPrefix(t) + "/redis" }
func redisSlotKey(t string, db int64) string {
	return tenantPrefix(t) + "/redis/db/" + strconv.FormatInt(db, 10)
}
func appRedisDBKey(t, app string) string { return tenantPrefix(t) + "/redis/app/" + app }
func domainKey(host string) string       { return root + "domain/" + host }
func sessionKey(hash string) string      { return root + "session/" + hash }
func idempotencyKey(scope string) string { return root + "idem/" + digestHex(scope) }
