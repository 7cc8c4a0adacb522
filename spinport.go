// Package spinport is the vocabulary every other package shares: the
// records (tenants, members, apps, revisions, tokens, audit events), roles
// and their ranking, quotas, names and image references with their rules,
// the default host, one error type with kinds, and the Deployer interface
// the Kubernetes adapter implements. It imports no other spinport package
// (benbjohnson/wtf's layout: the domain at the root, adapters in packages).
package spinport
