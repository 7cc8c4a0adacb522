"use strict";
// spinport portal: a small hash-routed page over /api/v1. Every value from
// the API is rendered with textContent, never as HTML.

const state = { me: null, csrf: "", issued: null };

// ---- API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || "HTTP " + status);
    this.status = status;
    this.field = problem.field;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const T = (t) => "/api/v1/tenants/" + encodeURIComponent(t);
const A = (t, a) => T(t) + "/apps/" + encodeURIComponent(a);

// ---- DOM helpers -----------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function section(title, ...children) { return el("section", {}, el("h2", {}, title), ...children); }

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "Nothing yet."))]));
}

function flash(msg, kind) {
  const f = document.getElementById("flash");
  f.textContent = msg;
  f.className = kind || "error";
  f.hidden = !msg;
}

// form builds a form whose submit handler receives the field values.
function form(fields, submitText, onSubmit) {
  const inputs = {};
  const f = el("form", {}, fields.map((fd) => {
    const input = fd.type === "select"
      ? el("select", { name: fd.name }, fd.options.map((o) => el("option", { value: o }, o)))
      : el("input", { name: fd.name, type: fd.type || "text", placeholder: fd.placeholder || "", required: fd.required, value: fd.value });
    inputs[fd.name] = input;
    return fd.type === "checkbox" ? el("label", {}, fd.label, input) : el("label", {}, fd.label, input);
  }), el("button", { type: "submit" }, submitText));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const [k, i] of Object.entries(inputs)) values[k] = i.type === "checkbox" ? i.checked : i.value.trim();
    try {
      flash("");
      await onSubmit(values);
    } catch (e) {
      flash(e.message);
    }
  });
  return f;
}

function action(text, fn, cls) {
  return el("button", { class: cls || "secondary", type: "button", onclick: async () => {
    try { flash(""); await fn(); } catch (e) { flash(e.message); }
  } }, text);
}

function link(href, text) { return el("a", { href }, text); }

function setCrumbs(parts) {
  const c = document.getElementById("crumbs");
  c.replaceChildren(...parts.map(([href, text]) => link(href, text)));
}

// ---- pages -----------------------------------------------------------------

async function signInPage(main) {
  const h = await api("GET", "/healthz").catch(() => null);
  main.append(
    section("Sign in",
      el("p", {}, "Sign in with your organisation's account."),
      el("p", {}, el("a", { href: "/auth/login?return=" + encodeURIComponent("/" + location.hash), id: "oidc-login" }, "Sign in with single sign-on")),
      el("p", { class: "muted" }, "Installation admins can sign in with the admin token:"),
      form([{ name: "token", label: "Admin token", type: "password", required: true }], "Sign in", async (v) => {
        await api("POST", "/auth/session", { token: v.token });
        await route();
      })),
    el("p", { id: "health", class: h && h.kv && h.kv.ok ? "ok muted" : "bad" },
      h ? `spinport ${h.version} — KV backend: ${h.kv.backend} (${h.kv.ok ? "ok" : "failing"})` : "spinport is not answering"));
}

async function tenantsPage(main) {
  setCrumbs([]);
  const list = await api("GET", "/api/v1/tenants?limit=200");
  main.append(section("Tenants",
    table(["Tenant", "Name", "Your role"], list.items.map((t) =>
      el("tr", {}, el("td", {}, link("#/t/" + t.slug, t.slug)), el("td", {}, t.displayName), el("td", {}, t.role || "")))),
    form([{ name: "slug", label: "Slug", placeholder: "acme", required: true }, { name: "displayName", label: "Display name", placeholder: "Acme" }],
      "Create tenant", async (v) => {
        const t = await api("POST", "/api/v1/tenants", { slug: v.slug, displayName: v.displayName || undefined });
        location.hash = "#/t/" + t.slug;
      })));
}

async function tenantPage(main, tenant) {
  setCrumbs([["#/t/" + tenant, tenant]]);
  const [t, apps] = await Promise.all([api("GET", T(tenant)), api("GET", T(tenant) + "/apps?limit=200")]);
  main.append(
    section(t.tenant.displayName + " (" + t.tenant.slug + ")",
      el("p", { class: "muted" }, `Your role: ${t.tenant.role}. Apps ${t.usage.apps}/${t.tenant.quotas.maxApps}, replicas ${t.usage.replicas}/${t.tenant.quotas.maxTotalReplicas}.`),
      el("p", {}, link(`#/t/${tenant}/members`, "Members"), " · ", link(`#/t/${tenant}/tokens`, "API tokens"), " · ",
        link(`#/t/${tenant}/push`, "Push credentials"), " · ", link(`#/t/${tenant}/audit`, "Audit log"))),
    section("Apps",
      table(["App", "Replicas", "Host"], apps.items.map((a) => el("tr", {},
        el("td", {}, link(`#/t/${tenant}/a/${a.name}`, a.name)),
        el("td", {}, a.autoscaling ? `${a.autoscaling.minReplicas}–${a.autoscaling.maxReplicas}` : a.replicas),
        el("td", {}, a.defaultHost)))),
      form([{ name: "name", label: "App name", placeholder: "web", required: true }, { name: "replicas", label: "Replicas", type: "number", value: "1" }],
        "Create app", async (v) => {
          const a = await api("POST", T(tenant) + "/apps", { name: v.name, replicas: Number(v.replicas || 1) });
          location.hash = `#/t/${tenant}/a/${a.name}`;
        })));
}

// declares summarises what an inspected Spin app declares.
function declares(a) {
  const parts = [`components ${a.components.join(", ")}`];
  if (a.routes.length) parts.push(`routes ${a.routes.join(", ")}`);
  if (a.variables.length) parts.push(`variables ${a.variables.map((v) => v.name + (v.required ? "*" : "")).join(", ")}`);
  if (a.keyValueStores.length) parts.push(`stores ${a.keyValueStores.join(", ")}`);
  if (a.allowedOutboundHosts.length) parts.push(`outbound ${a.allowedOutboundHosts.join(", ")}`);
  return parts.join("; ");
}

async function appPage(main, tenant, app) {
  setCrumbs([["#/t/" + tenant, tenant], [`#/t/${tenant}/a/${app}`, app]]);
  const [a, revs, vars] = await Promise.all([
    api("GET", A(tenant, app)), api("GET", A(tenant, app) + "/revisions?limit=20"), api("GET", A(tenant, app) + "/variables")]);
  const statusBox = el("div", { id: "status" }, el("span", { class: "muted" }, "Checking the cluster…"));
  const domainsBox = el("div", { id: "domains" }, el("span", { class: "muted" }, "Checking DNS and certificates…"));
  const trustBox = el("div", { id: "trust" });
  const reload = () => route();
  main.append(
    section(app,
      el("p", {}, "Hosts: ", [a.defaultHost, ...a.domains].join(", ")),
      el("p", {}, "Current revision: ", a.currentRevision === null ? "none yet" : String(a.currentRevision),
        " · Replicas: ", a.autoscaling ? `${a.autoscaling.minReplicas}–${a.autoscaling.maxReplicas} (autoscaling)` : String(a.replicas)),
      statusBox),
    section("Hosts", domainsBox),
    section("CI trust policies", trustBox,
      el("p", { class: "muted" }, "GitHub Actions jobs of this repository may deploy the app with no stored secret: they exchange their OIDC token (spinportctl ci-token)."),
      form([{ name: "repository", label: "Repository (owner/name)", placeholder: "acme/web" },
        { name: "repositoryId", label: "Repository id (numeric)", required: true }, { name: "repositoryOwnerId", label: "Owner id (numeric)", required: true },
        { name: "refs", label: "Refs (comma-separated)", value: "refs/tags/v*", required: true }, { name: "workflow", label: "Workflow (optional)", placeholder: "acme/web/.github/workflows/deploy.yml@" }],
      "Add trust policy", async (v) => {
        await api("POST", A(tenant, app) + "/trust-policies", { provider: "github", repository: v.repository || undefined, repositoryId: v.repositoryId,
          repositoryOwnerId: v.repositoryOwnerId, refs: v.refs.split(",").map((r) => r.trim()).filter(Boolean), workflow: v.workflow || undefined });
        await reload();
      })),
    section("Deploy",
      form([{ name: "image", label: "OCI image", placeholder: "ghcr.io/acme/web:v1.0.0", required: true }], "Deploy", async (v) => {
        // Checks first (tag, artifact, variables, stores, outbound hosts):
        // a refusal shows what to fix and nothing is deployed.
        const check = await api("POST", A(tenant, app) + "/deployments", { image: v.image, dryRun: true });
        const r = await api("POST", A(tenant, app) + "/deployments", { image: v.image });
        flash(`Revision ${r.number}: ${r.state}` + (check.artifact ? ` — ${declares(check.artifact)}` : ""), "info");
        await reload();
      })),
    section("Revisions",
      table(["#", "Image", "Declares", "Cause", "State", "By", "When", ""], revs.items.map((r) => el("tr", {},
        el("td", {}, String(r.number)), el("td", { title: r.digest || "" }, r.image),
        el("td", { class: "declares" }, r.artifact ? declares(r.artifact) : ""),
        el("td", {}, r.cause + (r.rollbackOf ? ` of ${r.rollbackOf}` : "")),
        el("td", { class: "state-" + r.state, title: r.reason || "" }, r.state),
        el("td", { title: r.ci ? `${r.ci.repository} ${r.ci.ref} ${r.ci.sha} run ${r.ci.run}` : "" }, r.ci ? `CI ${r.ci.repository} (${r.ci.ref})` : r.actor),
        el("td", {}, r.createdAt),
        el("td", {}, r.number === a.currentRevision ? "" : action("Roll back", async () => {
          const n = await api("POST", A(tenant, app) + "/rollback", { revision: r.number });
          flash(`Rolled back: revision ${n.number}`, "info");
          await reload();
        })))))),
    section("Variables",
      table(["Name", "Value", ""], vars.items.map((v) => el("tr", {},
        el("td", {}, v.name), el("td", {}, v.secret ? el("span", { class: "muted" }, "secret") : v.value),
        el("td", {}, action("Unset", async () => { await api("DELETE", A(tenant, app) + "/variables/" + v.name); await reload(); }))))),
      form([{ name: "name", label: "Name", placeholder: "api_url", required: true }, { name: "value", label: "Value", required: true },
        { name: "secret", label: "Secret", type: "checkbox" }], "Set variable", async (v) => {
        await api("PUT", A(tenant, app) + "/variables/" + encodeURIComponent(v.name), { value: v.value, secret: v.secret });
        await reload();
      })),
    section("Settings",
      form([{ name: "replicas", label: "Replicas", type: "number", value: String(a.replicas || 1) }], "Scale", async (v) => {
        await api("PATCH", A(tenant, app), { replicas: Number(v.replicas) });
        await reload();
      }),
      form([{ name: "domains", label: "Custom domains (comma-separated)", value: a.domains.join(", ") }], "Save domains", async (v) => {
        await api("PATCH", A(tenant, app), { domains: v.domains ? v.domains.split(",").map((d) => d.trim()).filter(Boolean) : [] });
        await reload();
      }),
      el("p", {}, action("Show logs", async () => {
        const l = await api("GET", A(tenant, app) + "/logs?tail=100");
        main.append(section("Logs", ...l.pods.map((p) => [el("h3", {}, p.name), el("pre", {}, p.log || p.error || "")])));
      }), " ", action("Delete app", async () => {
        if (!confirm(`Delete ${app} and everything it runs?`)) return;
        await api("DELETE", A(tenant, app));
        location.hash = "#/t/" + tenant;
      }, "danger"))));
  // Per host: verification (with the exact TXT record while pending), DNS,
  // certificate, and what to do next.
  api("GET", A(tenant, app) + "/domains").then((ds) => {
    domainsBox.replaceChildren(table(["Host", "Ownership", "DNS", "Certificate", "Next", ""], ds.items.map((d) => el("tr", { "data-host": d.host },
      el("td", {}, d.host),
      el("td", { class: d.verification.state === "verified" ? "ok" : "bad" }, d.verification.state,
        d.verification.state !== "verified" && d.verification.record
          ? el("div", {}, el("code", { class: "record" }, `${d.verification.record.name} TXT "${d.verification.record.value}"`)) : null),
      el("td", {}, !d.dns.checked ? "not checked" : d.dns.pointsAtIngress ? "points at the ingress" : "not pointing at " + d.dns.target),
      el("td", {}, d.certificate ? d.certificate.state : "none"),
      el("td", { class: "next" }, d.next),
      el("td", {}, d.verification.state === "pending" ? action("Verify", async () => {
        await api("POST", A(tenant, app) + "/domains/" + encodeURIComponent(d.host) + "/verify");
        flash(`${d.host} verified`, "info");
        await reload();
      }) : "")))));
  }).catch((e) => domainsBox.replaceChildren(el("p", { class: "muted" }, "Host status unavailable: " + e.message)));
  api("GET", A(tenant, app) + "/trust-policies").then((tp) => {
    trustBox.replaceChildren(table(["Provider", "Repository", "Ids", "Refs", "Workflow", ""], tp.items.map((p) => el("tr", { "data-policy": p.id },
      el("td", {}, p.provider), el("td", {}, p.repository || p.projectId || ""), el("td", {}, [p.repositoryId, p.repositoryOwnerId].filter(Boolean).join(" / ")),
      el("td", {}, p.refs.join(", ")), el("td", {}, p.workflow || "any"),
      el("td", {}, action("Remove", async () => { await api("DELETE", A(tenant, app) + "/trust-policies/" + p.id); await reload(); }, "danger"))))));
  }).catch((e) => trustBox.replaceChildren(el("p", { class: "muted" }, "Trust policies unavailable: " + e.message)));
  api("GET", A(tenant, app) + "/status").then((s) => {
    const c = s.cluster.spinApp;
    statusBox.replaceChildren(el("p", { class: s.ready ? "ok" : "muted" },
      c ? `${s.ready ? "Ready" : "Not ready"}: ${c.readyReplicas}/${c.replicas} replicas ready (revision ${c.revision})` : "Not running in the cluster yet."),
      s.waiting ? el("p", { class: "bad", id: "waiting" }, "Why: " + s.waiting) : null);
  }).catch((e) => statusBox.replaceChildren(el("p", { class: "muted" }, "Cluster status unavailable: " + e.message)));
}

async function membersPage(main, tenant) {
  setCrumbs([["#/t/" + tenant, tenant], [`#/t/${tenant}/members`, "members"]]);
  const ms = await api("GET", T(tenant) + "/members");
  main.append(section("Members",
    table(["User", "Name", "Role", ""], ms.items.map((m) => el("tr", {}, el("td", {}, m.user), el("td", {}, m.displayName || ""),
      el("td", {}, m.role), el("td", {}, action("Remove", async () => { await api("DELETE", T(tenant) + "/members/" + m.user); await route(); }))))),
    form([{ name: "user", label: "User id", required: true }, { name: "role", label: "Role", type: "select", options: ["viewer", "deployer", "owner"] }],
      "Add member", async (v) => { await api("POST", T(tenant) + "/members", v); await route(); })));
}

async function tokensPage(main, tenant) {
  setCrumbs([["#/t/" + tenant, tenant], [`#/t/${tenant}/tokens`, "tokens"]]);
  const ts = await api("GET", T(tenant) + "/tokens");
  const shown = el("div", { id: "new-token" });
  main.append(section("API tokens",
    table(["Name", "Scopes", "App", "Expires", "Last used", ""], ts.items.map((t) => el("tr", {},
      el("td", {}, t.name), el("td", {}, t.scopes.join(", ")), el("td", {}, t.app || "all"), el("td", {}, t.expiresAt || ""),
      el("td", {}, t.lastUsedAt || "never"),
      el("td", {}, action("Revoke", async () => { await api("DELETE", T(tenant) + "/tokens/" + t.id); await route(); }))))),
    form([{ name: "name", label: "Name", placeholder: "github-actions", required: true },
      { name: "scope", label: "Scope", type: "select", options: ["deploy", "read", "manage"] }, { name: "app", label: "Only app (optional)" }],
      "Create token", async (v) => {
        const r = await api("POST", T(tenant) + "/tokens", { name: v.name, scopes: [v.scope], app: v.app || undefined });
        shown.replaceChildren(el("p", {}, "Copy the token now; it is not shown again: "), el("code", { class: "secret" }, r.secret));
      }),
    shown));
}

// pushPage: registry credentials for CI, scoped to the tenant's
// repositories. A password is shown once, with the lines to paste into CI.
async function pushPage(main, tenant) {
  setCrumbs([["#/t/" + tenant, tenant], [`#/t/${tenant}/push`, "push credentials"]]);
  const cs = await api("GET", T(tenant) + "/push-credentials");
  const shown = el("div", { id: "new-push" });
  const show = (r) => shown.replaceChildren(
    el("p", {}, `Copy the password for ${r.credential.username} now; it is not shown again:`),
    el("code", { class: "secret" }, r.password),
    el("p", {}, "In CI (password on stdin):"),
    el("pre", { class: "push-lines" }, r.login + "\n" + r.push));
  main.append(section("Push credentials",
    el("p", { class: "muted" }, "Credentials for the installation's registry that may push and pull only this tenant's repositories. Rotating makes a new password and keeps the previous one working until the next rotation, so CI can switch without a failed push."),
    table(["Name", "Username", "Password", "Expires", "Rotated", ""], cs.items.map((c) => el("tr", {},
      el("td", {}, c.name), el("td", {}, c.username), el("td", {}, "password" + c.passwordSlot), el("td", {}, c.expiresAt || "never"),
      el("td", {}, c.rotatedAt || ""),
      el("td", {},
        action("Rotate", async () => { state.issued = await api("POST", T(tenant) + "/push-credentials/" + encodeURIComponent(c.name) + "/rotate"); await route(); }),
        action("Revoke", async () => { await api("DELETE", T(tenant) + "/push-credentials/" + encodeURIComponent(c.name)); await route(); }, "danger"))))),
    form([{ name: "name", label: "Name", placeholder: "ci", required: true }, { name: "days", label: "Expires in days", type: "number", value: "90" }],
      "Create push credential", async (v) => {
        state.issued = await api("POST", T(tenant) + "/push-credentials", { name: v.name, expiresInDays: Number(v.days || 90) });
        await route();
      }),
    shown));
  // A password just issued is shown on this one rendering, then forgotten.
  if (state.issued) { show(state.issued); state.issued = null; }
}

async function auditPage(main, tenant) {
  setCrumbs([["#/t/" + tenant, tenant], [`#/t/${tenant}/audit`, "audit"]]);
  const es = await api("GET", T(tenant) + "/audit?limit=100");
  main.append(section("Audit log",
    table(["When", "Who", "Action", "Target", "Outcome"], es.items.map((e) => el("tr", {},
      el("td", {}, e.time), el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.target),
      el("td", { class: e.outcome === "ok" ? "ok" : "bad" }, e.outcome))))));
}

// ---- routing ---------------------------------------------------------------

async function loadMe() {
  try {
    state.me = await api("GET", "/api/v1/me");
    state.csrf = state.me.csrfToken || "";
  } catch (e) {
    state.me = null;
    state.csrf = "";
  }
  const who = document.getElementById("who");
  who.replaceChildren();
  if (state.me) {
    who.append(state.me.name, action("Sign out", async () => { await api("POST", "/auth/logout"); location.hash = "#/"; await route(); }));
  }
}

async function route() {
  const main = document.getElementById("main");
  await loadMe();
  main.replaceChildren();
  if (!state.me) {
    setCrumbs([]);
    return signInPage(main);
  }
  const p = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (p[0] === "t" && p[1] && p[2] === "a" && p[3]) return await appPage(main, p[1], p[3]);
    if (p[0] === "t" && p[1] && p[2] === "members") return await membersPage(main, p[1]);
    if (p[0] === "t" && p[1] && p[2] === "tokens") return await tokensPage(main, p[1]);
    if (p[0] === "t" && p[1] && p[2] === "push") return await pushPage(main, p[1]);
    if (p[0] === "t" && p[1] && p[2] === "audit") return await auditPage(main, p[1]);
    if (p[0] === "t" && p[1]) return await tenantPage(main, p[1]);
    return await tenantsPage(main);
  } catch (e) {
    flash(e.message);
  }
}

window.addEventListener("hashchange", () => { flash(""); route(); });
route();
