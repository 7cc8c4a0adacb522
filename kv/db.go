package kv

import (
	"errors"
	"time"

	"github.com/spinport/spinport"
	"github.com/valyala/fastjson"
)

// DB is spinport's record store on a Backend.
type DB struct {
	B Backend
	// Now is the clock for claims that expire (default time.Now).
	Now func() time.Time
	// LockTTL is how long an unfinished claim (an app being deleted, an
	// Idempotency-Key whose first request is running) blocks others before
	// a retry may take it over: the instance that held it may have died.
	// IdempotencyTTL is how long a stored answer is replayed. Both come
	// from Spin variables (lock_ttl, idempotency_ttl); zero means the defaults.
	LockTTL, IdempotencyTTL time.Duration
}

// Defaults for DB's durations.
const (
	DefaultLockTTL        = 2 * time.Minute
	DefaultIdempotencyTTL = 24 * time.Hour
)

func (db DB) unix() int64 {
	if db.Now == nil {
		return time.Now().Unix()
	}
	return db.Now().Unix()
}

func (db DB) deadline(ttl, def time.Duration) int64 {
	if ttl <= 0 {
		ttl = def
	}
	secs := int64(ttl / time.Second)
	if secs < 1 {
		secs = 1
	}
	return db.unix() + secs
}

func (db DB) coll(prefix string) Collection { return Collection{B: db.B, Prefix: prefix, Now: db.unix} }

func (db DB) tenants() Collection             { return db.coll(tenantsPrefix()) }
func (db DB) members(t string) Collection     { return db.coll(membersPrefix(t)) }
func (db DB) apps(t string) Collection        { return db.coll(appsPrefix(t)) }
func (db DB) tokens(t string) Collection      { return db.coll(tokensPrefix(t)) }
func (db DB) vars(t, a string) Collection     { return db.coll(varsPrefix(t, a)) }
func (db DB) userTenants(u string) Collection { return db.coll(userTenantsPrefix(u)) }
func (db DB) registries(t string) Collection  { return db.coll(registriesPrefix(t)) }
func (db DB) revisions(t, a string) Log       { return Log{db.B, revisionsPrefix(t, a)} }
func (db DB) audit(t string) Log              { return Log{db.B, auditPrefix(t)} }

// newestDocs reads one page of a log, newest first, into typed records.
func newestDocs[T any](l Log, before int64, limit int, read func(*fastjson.Value) T) ([]T, int64, error) {
	docs, next, err := l.Newest(before, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(docs))
	var p fastjson.Parser // one for the page (see parse)
	for _, d := range docs {
		r, err := parse(&p, d)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, read(r))
	}
	return out, next, nil
}

// listDocs reads one page of a collection into typed records.
func listDocs[T any](c Collection, cursor string, limit int, read func(*fastjson.Value) T) ([]T, string, error) {
	out := make([]T, 0, limit)
	// Read straight from the parsed envelope: one parse per record.
	next, err := c.Each(cursor, limit, func(_ string, doc *fastjson.Value) error {
		if err := checkSchema(doc); err != nil {
			return err
		}
		out = append(out, read(doc))
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ---- tenants and members

// CreateTenant stores the tenant and its first owner.
func (db DB) CreateTenant(t spinport.Tenant, owner spinport.Member) error {
	if err := db.tenants().Create(t.Slug, marshalTenant(t)); err != nil {
		return err
	}
	return db.AddMember(t.Slug, owner)
}

func (db DB) GetTenant(slug string) (spinport.Tenant, error) {
	b, err := db.tenants().Get(slug)
	if err != nil {
		return spinport.Tenant{}, err
	}
	return ParseTenant(b)
}

func (db DB) UpdateTenant(t spinport.Tenant) error {
	return db.tenants().Update(t.Slug, marshalTenant(t))
}

// ListTenants lists every tenant (installation admins).
func (db DB) ListTenants(cursor string, limit int) ([]spinport.Tenant, string, error) {
	return listDocs(db.tenants(), cursor, limit, readTenant)
}

// UserTenants lists the slugs of the tenants a user belongs to.
func (db DB) UserTenants(userID, cursor string, limit int) ([]string, string, error) {
	items, next, err := db.userTenants(userID).List(cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out, next, nil
}

// AppCount is the number of apps a tenant has.
func (db DB) AppCount(tenant string) (int64, error) { return readCounter(db.B, appCountKey(tenant)) }

// ReplicaCount is the replicas (autoscaling maximum counted) a tenant runs.
func (db DB) ReplicaCount(tenant string) (int64, error) {
	return readCounter(db.B, replicaCountKey(tenant))
}

// DeleteTenant removes a tenant that has no apps, with its members,
// tokens and audit log.
func (db DB) DeleteTenant(slug string) error {
	n, err := db.AppCount(slug)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrHasApps
	}
	if err := db.eachName(db.members(slug), func(user string) error {
		if err := db.userTenants(user).Delete(slug); err != nil {
			return err
		}
		return db.members(slug).Delete(user)
	}); err != nil {
		return err
	}
	if err := db.eachName(db.tokens(slug), func(id string) error { return db.RevokeToken(slug, id) }); err != nil {
		return err
	}
	if err := db.eachName(db.registries(slug), func(r string) error { return db.registries(slug).Delete(r) }); err != nil {
		return err
	}
	if err := db.eachName(db.pushCreds(slug), func(n string) error { return db.pushCreds(slug).Delete(n) }); err != nil {
		return err
	}
	if err := db.audit(slug).DeleteAll(); err != nil {
		return err
	}
	if err := db.DeleteTenantRedis(slug); err != nil {
		return err
	}
	// The tenant's Redis database index is not reused: a new tenant with
	// the same slug must not inherit the old one's data (docs/tenancy.md).
	for _, k := range []string{appCountKey(slug), replicaCountKey(slug), redisDBKey(slug), membersPrefix(slug) + "/seq", tokensPrefix(slug) + "/seq", appsPrefix(slug) + "/seq", registriesPrefix(slug) + "/seq", pushPrefix(slug) + "/seq", tenantAppliedKey(slug)} {
		if err := db.B.Delete(k); err != nil {
			return err
		}
	}
	return db.tenants().Delete(slug)
}

// ErrHasApps refuses deleting a tenant that still has apps.
var ErrHasApps = errors.New("kv: tenant still has apps")

// eachName calls fn for every record name in c, in pages.
func (db DB) eachName(c Collection, fn func(name string) error) error {
	return db.eachItem(c, func(it Item) error { return fn(it.Name) })
}

func (db DB) AddMember(tenant string, m spinport.Member) error {
	if err := db.members(tenant).Create(m.UserID, marshalMember(m)); err != nil {
		return err
	}
	return db.userTenants(m.UserID).Put(tenant, []byte(`{}`))
}

func (db DB) GetMember(tenant, userID string) (spinport.Member, error) {
	b, err := db.members(tenant).Get(userID)
	if err != nil {
		return spinport.Member{}, err
	}
	return ParseMember(b)
}

func (db DB) UpdateMember(tenant string, m spinport.Member) error {
	return db.members(tenant).Update(m.UserID, marshalMember(m))
}

func (db DB) RemoveMember(tenant, userID string) error {
	if err := db.members(tenant).Delete(userID); err != nil {
		return err
	}
	return db.userTenants(userID).Delete(tenant)
}

func (db DB) ListMembers(tenant, cursor string, limit int) ([]spinport.Member, string, error) {
	return listDocs(db.members(tenant), cursor, limit, readMember)
}

// ---- users

// EnsureUser returns the user for an identity, creating it on first sign-in.
// newID is called only when the identity is new.
func (db DB) EnsureUser(u spinport.User, newID func() string) (spinport.User, error) {
	key := identityKey(u.Issuer, u.Subject)
	id := newID()
	created, err := db.B.SetNX(key, []byte(id))
	if err != nil {
		return spinport.User{}, err
	}
	if !created {
		b, err := db.B.Get(key)
		if err != nil {
			return spinport.User{}, err
		}
		existing, err := db.GetUser(string(b))
		if err == nil {
			if existing.DisplayName != u.DisplayName || existing.Email != u.Email {
				existing.DisplayName, existing.Email = u.DisplayName, u.Email
				return existing, db.B.Set(userKey(existing.ID), marshalUser(existing))
			}
			return existing, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return spinport.User{}, err
		}
		id = string(b) // identity claimed but record not yet written: write it
	}
	u.ID = id
	return u, db.B.Set(userKey(id), marshalUser(u))
}

func (db DB) GetUser(id string) (spinport.User, error) {
	b, err := db.B.Get(userKey(id))
	if err != nil {
		return spinport.User{}, err
	}
	return ParseUser(b)
}

// PutUser stores a user record directly (the bootstrap admin, tests).
func (db DB) PutUser(u spinport.User) error { return db.B.Set(userKey(u.ID), marshalUser(u)) }

// ---- apps

// CreateApp stores a new app within the tenant's quotas. Quota counters are
// incremented first and rolled back on failure, so concurrent creations can
// never together exceed a quota.
func (db DB) CreateApp(a spinport.App, q spinport.Quotas) error {
	if q.MaxReplicasPerApp > 0 && a.Scaling.Peak() > q.MaxReplicasPerApp {
		return &spinport.QuotaError{Quota: "maxReplicasPerApp", Limit: q.MaxReplicasPerApp}
	}
	undoApps, err := db.reserve(appCountKey(a.Tenant), 1, q.MaxApps, "maxApps")
	if err != nil {
		return err
	}
	undoReplicas, err := db.reserve(replicaCountKey(a.Tenant), a.Scaling.Peak(), q.MaxTotalReplicas, "maxTotalReplicas")
	if err != nil {
		undoApps()
		return err
	}
	if err := db.apps(a.Tenant).Create(a.Name, marshalApp(a)); err != nil {
		undoReplicas()
		undoApps()
		return err
	}
	return nil
}

// reserve adds delta to a counter unless that takes it over limit (0 = no limit).
func (db DB) reserve(key string, delta, limit int64, quota string) (undo func(), err error) {
	if delta == 0 {
		return func() {}, nil
	}
	n, err := db.B.IncrBy(key, delta)
	if err != nil {
		return nil, err
	}
	undo = func() { _, _ = db.B.IncrBy(key, -delta) }
	if limit > 0 && delta > 0 && n > limit {
		undo()
		return nil, &spinport.QuotaError{Quota: quota, Limit: limit}
	}
	return undo, nil
}

func (db DB) GetApp(tenant, name string) (spinport.App, error) {
	b, err := db.apps(tenant).Get(name)
	if err != nil {
		return spinport.App{}, err
	}
	return ParseApp(b)
}

// UpdateApp replaces the app record. The replica quota moves by the
// difference to the record it actually replaces (read and swapped
// atomically), so racing updates can never make the counter drift; old is
// only a hint from the caller and is not trusted for the count.
func (db DB) UpdateApp(old, a spinport.App, q spinport.Quotas) error {
	if q.MaxReplicasPerApp > 0 && a.Scaling.Peak() > q.MaxReplicasPerApp {
		return &spinport.QuotaError{Quota: "maxReplicasPerApp", Limit: q.MaxReplicasPerApp}
	}
	var undo func()
	err := db.apps(a.Tenant).Modify(a.Name, func(cur []byte) ([]byte, error) {
		if undo != nil { // the previous attempt lost the swap
			undo()
			undo = nil
		}
		stored, err := ParseApp(cur)
		if err != nil {
			return nil, err
		}
		u, err := db.reserve(replicaCountKey(a.Tenant), a.Scaling.Peak()-stored.Scaling.Peak(), q.MaxTotalReplicas, "maxTotalReplicas")
		if err != nil {
			return nil, err
		}
		undo = u
		return marshalApp(a), nil
	})
	if err != nil && undo != nil {
		undo()
	}
	return err
}

func (db DB) ListApps(tenant, cursor string, limit int) ([]spinport.App, string, error) {
	return listDocs(db.apps(tenant), cursor, limit, readApp)
}

// DeleteApp removes the app with its variables, revisions and domain claims
// and gives its quota back. Of racing deletes exactly one wins (the app
// record is swapped for a removal marker first); the others get
// ErrNotFound, so the counters move once. The quota returned is what the
// stored record held, not what the caller read.
func (db DB) DeleteApp(a spinport.App) error {
	var gone spinport.App
	err := db.apps(a.Tenant).Remove(a.Name, db.deadline(db.LockTTL, DefaultLockTTL), func(doc []byte) error {
		stored, err := ParseApp(doc)
		if err != nil {
			return err
		}
		gone = stored
		return db.deleteAppData(stored)
	})
	if err != nil {
		return err
	}
	if _, err := db.B.IncrBy(appCountKey(a.Tenant), -1); err != nil {
		return err
	}
	_, err = db.B.IncrBy(replicaCountKey(a.Tenant), -gone.Scaling.Peak())
	return err
}

// deleteAppData removes what belongs to an app record, while the record is
// marked as being removed (no one can re-create the name meanwhile).
func (db DB) deleteAppData(a spinport.App) error {
	if err := db.eachName(db.vars(a.Tenant, a.Name), func(n string) error { return db.vars(a.Tenant, a.Name).Delete(n) }); err != nil {
		return err
	}
	if err := db.forgetDigests(a.Tenant, a.Name); err != nil {
		return err
	}
	if err := db.ForgetAppApplied(a.Tenant, a.Name); err != nil {
		return err
	}
	if err := db.deleteTrust(a.Tenant, a.Name); err != nil {
		return err
	}
	if err := db.revisions(a.Tenant, a.Name).DeleteAll(); err != nil {
		return err
	}
	for _, host := range a.Domains {
		if err := db.ReleaseDomain(host, a.Tenant, a.Name); err != nil {
			return err
		}
	}
	return db.B.Delete(varsPrefix(a.Tenant, a.Name) + "/seq")
}

// ---- variables

func (db DB) SetVariable(tenant, app string, v spinport.Variable) error {
	return db.vars(tenant, app).Put(v.Name, marshalVariable(v))
}

func (db DB) DeleteVariable(tenant, app, name string) error {
	return db.vars(tenant, app).Delete(name)
}

func (db DB) GetVariable(tenant, app, name string) (spinport.Variable, error) {
	b, err := db.vars(tenant, app).Get(name)
	if err != nil {
		return spinport.Variable{}, err
	}
	return ParseVariable(b)
}

// Variables lists all of an app's variables (bounded by the API's limit per app).
func (db DB) Variables(tenant, app string) ([]spinport.Variable, error) {
	var out []spinport.Variable
	var p fastjson.Parser // one for all (see parse)
	err := db.eachItem(db.vars(tenant, app), func(it Item) error {
		r, err := parse(&p, it.Doc)
		if err == nil {
			out = append(out, readVariable(r))
		}
		return err
	})
	return out, err
}

func (db DB) eachItem(c Collection, fn func(Item) error) error {
	cursor := ""
	for {
		items, next, err := c.List(cursor, 100)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// ---- revisions

// AddRevision records a deploy. A digest-pinned image maps to one revision
// per app: deploying a digest that already has a revision returns that
// revision with existed=true instead of a new one, so CI retries and
// concurrent duplicate deploys make exactly one revision, and re-running an
// old pipeline never silently rolls production back (rollback is explicit).
func (db DB) AddRevision(tenant, app string, rev spinport.Revision) (spinport.Revision, bool, error) {
	log := db.revisions(tenant, app)
	if rev.Digest != "" && rev.Cause == spinport.CauseDeploy {
		if existing, err := db.revisionForDigest(tenant, app, rev.Digest); err == nil {
			return existing, true, nil
		} else if !errors.Is(err, ErrNotFound) {
			return spinport.Revision{}, false, err
		}
	}
	n, err := log.Append(func(n int64) []byte { rev.Number = n; return marshalRevision(rev) })
	if err != nil {
		return spinport.Revision{}, false, err
	}
	rev.Number = n
	if rev.Digest == "" || rev.Cause != spinport.CauseDeploy {
		return rev, false, nil
	}
	// Claim the digest. A concurrent duplicate that loses the claim removes
	// its own revision and returns the winner's.
	won, err := db.B.SetNX(dedupeKey(tenant, app, rev.Digest), formatInt(n))
	if err != nil || won {
		return rev, false, err
	}
	_ = db.B.Delete(log.key(n))
	existing, err := db.revisionForDigest(tenant, app, rev.Digest)
	return existing, true, err
}

func (db DB) forgetDigests(tenant, app string) error {
	before := int64(0)
	for {
		revs, next, err := db.ListRevisions(tenant, app, before, 100)
		if err != nil {
			return err
		}
		for _, r := range revs {
			if r.Digest != "" {
				if err := db.B.Delete(dedupeKey(tenant, app, r.Digest)); err != nil {
					return err
				}
			}
		}
		if next == 0 {
			return nil
		}
		before = next
	}
}

func (db DB) revisionForDigest(tenant, app, digest string) (spinport.Revision, error) {
	b, err := db.B.Get(dedupeKey(tenant, app, digest))
	if err != nil {
		return spinport.Revision{}, err
	}
	n, ok := parseInt(b)
	if !ok {
		return spinport.Revision{}, ErrCorrupt
	}
	return db.GetRevision(tenant, app, n)
}

// LatestRevision returns the newest revision: the one the app runs.
func (db DB) LatestRevision(tenant, app string) (spinport.Revision, error) {
	log := db.revisions(tenant, app)
	docs, _, err := log.Newest(0, 1)
	if err != nil {
		return spinport.Revision{}, err
	}
	if len(docs) == 0 {
		return spinport.Revision{}, ErrNotFound
	}
	return ParseRevision(docs[0])
}

func (db DB) GetRevision(tenant, app string, n int64) (spinport.Revision, error) {
	b, err := db.revisions(tenant, app).Get(n)
	if err != nil {
		return spinport.Revision{}, err
	}
	return ParseRevision(b)
}

// UpdateRevision stores a revision's new state.
func (db DB) UpdateRevision(tenant, app string, rev spinport.Revision) error {
	return db.revisions(tenant, app).Set(rev.Number, marshalRevision(rev))
}

// ListRevisions lists revisions newest first; before=0 starts at the newest.
func (db DB) ListRevisions(tenant, app string, before int64, limit int) ([]spinport.Revision, int64, error) {
	return newestDocs(db.revisions(tenant, app), before, limit, readRevision)
}

// ---- tokens

func (db DB) CreateToken(t spinport.Token) error {
	if err := db.B.Set(tokenRefKey(t.ID), []byte(t.Tenant)); err != nil {
		return err
	}
	return db.tokens(t.Tenant).Create(t.ID, marshalToken(t))
}

// TokenByID finds a token from the id part of a presented token.
func (db DB) TokenByID(id string) (spinport.Token, error) {
	tenant, err := db.B.Get(tokenRefKey(id))
	if err != nil {
		return spinport.Token{}, err
	}
	return db.GetToken(string(tenant), id)
}

func (db DB) GetToken(tenant, id string) (spinport.Token, error) {
	b, err := db.tokens(tenant).Get(id)
	if err != nil {
		return spinport.Token{}, err
	}
	return ParseToken(b)
}

func (db DB) TouchToken(t spinport.Token) error {
	return db.tokens(t.Tenant).Update(t.ID, marshalToken(t))
}

func (db DB) RevokeToken(tenant, id string) error {
	if err := db.tokens(tenant).Delete(id); err != nil {
		return err
	}
	return db.B.Delete(tokenRefKey(id))
}

func (db DB) ListTokens(tenant, cursor string, limit int) ([]spinport.Token, string, error) {
	return listDocs(db.tokens(tenant), cursor, limit, readToken)
}

// ---- registry credentials (the password is only in Kubernetes)

func (db DB) PutRegistryCredential(tenant string, c spinport.RegistryCredential) error {
	return db.registries(tenant).Put(c.Registry, marshalRegistryCredential(c))
}

func (db DB) GetRegistryCredential(tenant, registry string) (spinport.RegistryCredential, error) {
	b, err := db.registries(tenant).Get(registry)
	if err != nil {
		return spinport.RegistryCredential{}, err
	}
	return parseRegistryCredential(b)
}

func (db DB) ListRegistryCredentials(tenant, cursor string, limit int) ([]spinport.RegistryCredential, string, error) {
	return listDocs(db.registries(tenant), cursor, limit, readRegistryCredential)
}

func (db DB) DeleteRegistryCredential(tenant, registry string) error {
	return db.registries(tenant).Delete(registry)
}

// ---- audit

func (db DB) Audit(tenant string, e spinport.AuditEvent) error {
	_, err := db.audit(tenant).Append(func(n int64) []byte { e.Seq = n; return marshalAuditEvent(e) })
	return err
}

func (db DB) ListAudit(tenant string, before int64, limit int) ([]spinport.AuditEvent, int64, error) {
	return newestDocs(db.audit(tenant), before, limit, readAuditEvent)
}

// ---- domains

// ClaimDomain reserves host for tenant/app across the installation.
// Claiming a host the same app already holds succeeds.
func (db DB) ClaimDomain(host, tenant, app string) error {
	return db.Claim(spinport.DomainClaim{Host: host, Tenant: tenant, App: app})
}

// Claim reserves claim.Host for its tenant/app across the installation
// (SET NX); claiming a host the same app already holds succeeds and keeps
// the stored claim (its verification state).
func (db DB) Claim(claim spinport.DomainClaim) error {
	host, tenant, app := claim.Host, claim.Tenant, claim.App
	ok, err := db.B.SetNX(domainKey(host), marshalDomainClaim(claim))
	if err != nil || ok {
		return err
	}
	got, err := db.GetDomain(host)
	if err != nil {
		return err
	}
	if got.Tenant == tenant && got.App == app {
		return nil
	}
	return ErrExists
}

func (db DB) GetDomain(host string) (spinport.DomainClaim, error) {
	b, err := db.B.Get(domainKey(host))
	if err != nil {
		return spinport.DomainClaim{}, err
	}
	return ParseDomainClaim(b)
}

// UpdateDomain stores a changed claim of the same tenant/app, only if the
// stored one is still was (compare-and-swap: a racing release or update
// wins, and this answers ErrNotFound).
func (db DB) UpdateDomain(was, now spinport.DomainClaim) error {
	cur, err := db.B.Get(domainKey(was.Host))
	if err != nil {
		return err
	}
	stored, err := ParseDomainClaim(cur)
	if err != nil {
		return err
	}
	if stored != was {
		return ErrNotFound
	}
	ok, err := db.B.CompareAndSwap(domainKey(was.Host), cur, marshalDomainClaim(now))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return err
}

// ReleaseDomain frees host if tenant/app holds it.
func (db DB) ReleaseDomain(host, tenant, app string) error {
	got, err := db.GetDomain(host)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if got.Tenant != tenant || got.App != app {
		return nil
	}
	return db.B.Delete(domainKey(host))
}

// ---- sessions, idempotency

func (db DB) PutSession(hash string, s spinport.Session) error {
	return db.B.Set(sessionKey(hash), marshalSession(s))
}

func (db DB) GetSession(hash string) (spinport.Session, error) {
	b, err := db.B.Get(sessionKey(hash))
	if err != nil {
		return spinport.Session{}, err
	}
	return ParseSession(b)
}

func (db DB) DeleteSession(hash string) error { return db.B.Delete(sessionKey(hash)) }

// ClaimIdempotency reserves scope for the first request that carries it,
// recording the hash of that request. It returns first=true to the request
// that should run, or the record already there (pending or answered). A
// record past its deadline counts as absent and is taken over atomically,
// so a claim left by an instance that died blocks retries only for LockTTL
// and a stored answer is replayed only for IdempotencyTTL.
func (db DB) ClaimIdempotency(scope, requestHash string) (first bool, rec Idempotency, err error) {
	key := idempotencyKey(scope)
	claim := Idempotency{Hash: requestHash, Pending: true, Until: db.deadline(db.LockTTL, DefaultLockTTL)}.Marshal()
	for attempt := 0; attempt < 4; attempt++ {
		ok, err := db.B.SetNX(key, claim)
		if err != nil || ok {
			return ok, Idempotency{}, err
		}
		raw, err := db.B.Get(key)
		if errors.Is(err, ErrNotFound) {
			continue // forgotten meanwhile: claim again
		}
		if err != nil {
			return false, Idempotency{}, err
		}
		rec, err := ParseIdempotency(raw)
		if err == nil && rec.Until > db.unix() {
			return false, rec, nil
		}
		// Expired (or unreadable): exactly one of the racing retries wins it.
		ok, err = db.B.CompareAndSwap(key, raw, claim)
		if err != nil || ok {
			return ok, Idempotency{}, err
		}
	}
	return false, Idempotency{}, ErrConflict
}

// StoreIdempotency records the answer to replay for IdempotencyTTL.
// The answer must not hold a secret (the API stores a notice instead).
func (db DB) StoreIdempotency(scope string, rec Idempotency) error {
	rec.Pending = false
	rec.Until = db.deadline(db.IdempotencyTTL, DefaultIdempotencyTTL)
	return db.B.Set(idempotencyKey(scope), rec.Marshal())
}

func (db DB) ForgetIdempotency(scope string) error { return db.B.Delete(idempotencyKey(scope)) }

// Ping writes and reads back a key (health checks).
func (db DB) Ping(now int64) error {
	v := formatInt(now)
	if err := db.B.Set(root+"health", v); err != nil {
		return err
	}
	got, err := db.B.Get(root + "health")
	if err != nil {
		return err
	}
	if _, ok := parseInt(got); !ok { // another instance may have written its own time
		return errors.New("kv: health key read back garbage")
	}
	return nil
}

// SharedRedisDB is the tenant's database on the shared app Redis, 0 when
// none is allocated yet.
func (db DB) SharedRedisDB(tenant string) (int64, error) {
	return readInt(db.B.Store, redisDBKey(tenant))
}

// TenantRedisDB returns the Redis database index reserved for a tenant's
// app KV stores, allocating the next free one (from 1) on first use.
func (db DB) TenantRedisDB(tenant string) (int64, error) {
	key := redisDBKey(tenant)
	if n, err := db.SharedRedisDB(tenant); n > 0 || err != nil {
		return n, err
	}
	n, err := db.B.IncrBy(root+"redisdb/n", 1)
	if err != nil {
		return 0, err
	}
	if ok, err := db.B.SetNX(key, formatInt(n)); err != nil {
		return 0, err
	} else if !ok { // allocated concurrently: use the winner's (n stays unused)
		return db.TenantRedisDB(tenant)
	}
	return n, nil
}
