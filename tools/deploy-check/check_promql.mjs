#!/usr/bin/env node
// Checks every PromQL expression of the alert rules and the Grafana
// dashboards against what the real roles export:
//   - each parses, with Prometheus' own parser (`promtool check rules` on a
//     generated rules file) and with @prometheus-io/lezer-promql;
//   - every metric name a selector uses is a sample name in the scrapes of
//     the real learner, refiner and actor (scrape_roles.sh), both the first
//     scrape (before anything happened) and one after the first PPO update,
//     so that no panel or alert is empty because of a wrong name;
//   - a `role="..."` matcher names a role that exports that metric, and any
//     other equality matcher (phase="train", method="Join") names a label
//     value that the scrape holds.
//   - with $GORL_PROMETHEUS_URL (a Prometheus scraping those roles, as
//     `scrape_roles.sh ... COMMAND` runs one): every dashboard query returns
//     data, so no panel shows "No data" on a run that has just started.
// Then proves that it bites: a bogus metric name, a histogram's bare family
// name, a wrong role, a misspelt label value, a syntax error and a query
// that selects nothing must each be reported.
//
// Usage: node check_promql.mjs --rules FILE --dashboards DIR --scrapes DIR --out DIR
//        [--promtool PATH]
// Exit 0 when everything holds; 1 naming each expression and metric otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import YAML from 'yaml';

const ROLES = ['learner', 'refiner', 'actor'];
// Series Prometheus makes itself for every target, and its alert series.
const PROMETHEUS_SERIES = new Set([
  'up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling',
  'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE',
]);
// Labels Prometheus attaches to every scraped series (not in the exposition).
const TARGET_LABELS = new Set(['job', 'instance']);

function parseArgs(argv) {
  const args = { promtool: 'promtool' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`usage: check_promql.mjs --rules FILE --dashboards DIR --scrapes DIR --out DIR (at '${argv[i]}')`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const needed of ['rules', 'dashboards', 'scrapes', 'out']) {
    if (!args[needed]) throw new Error(`missing --${needed}`);
  }
  return args;
}

// --- what the roles export -------------------------------------------------

// Sample name -> Map(label name -> Set of values), from one exposition text.
function parseExposition(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s/.exec(line);
    if (!m) continue;
    if (!samples.has(m[1])) samples.set(m[1], new Map());
    const labels = samples.get(m[1]);
    for (const [, name, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (!labels.has(name)) labels.set(name, new Set());
      labels.get(name).add(value);
    }
  }
  return samples;
}

// Role -> samples present in both its early and its late scrape (a family
// that only appears once something happened would leave a panel empty).
function loadExports(dir) {
  const exports = new Map();
  for (const role of ROLES) {
    const [early, late] = ['early', 'late'].map((when) => {
      const file = path.join(dir, `${role}.${when}.prom`);
      if (!fs.existsSync(file)) throw new Error(`${file} missing: run scrape_roles.sh first`);
      return parseExposition(fs.readFileSync(file, 'utf8'));
    });
    const both = new Map();
    for (const [name, labels] of late) if (early.has(name)) both.set(name, labels);
    if (![...both.keys()].some((n) => n.startsWith('gorl_'))) throw new Error(`no gorl_ samples in ${role}'s scrapes`);
    exports.set(role, both);
  }
  return exports;
}

// --- the expressions ---------------------------------------------------------

// Grafana's variables, as Prometheus would see them after Grafana's
// interpolation: durations for the built-in intervals, a match-anything
// regex for the dashboards' own (they only appear in =~ matchers).
function substituteGrafanaVariables(expr) {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}|\[\[[a-zA-Z_][a-zA-Z0-9_]*\]\]|\$[a-zA-Z_][a-zA-Z0-9_]*/g, '.*');
}

// [{where, expr}] of every alert/recording rule.
function ruleExpressions(file) {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  const out = [];
  for (const group of doc.groups ?? []) {
    for (const rule of group.rules ?? []) {
      out.push({ where: `${path.basename(file)} ${rule.alert ? 'alert' : 'record'} ${rule.alert ?? rule.record}`, expr: String(rule.expr) });
    }
  }
  return out;
}

// [{where, expr, panel: true}] of every panel query and query variable of the dashboards.
function dashboardExpressions(dir) {
  const out = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let d;
    try {
      d = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    } catch (e) {
      throw new Error(`${path.join(dir, file)}: not JSON: ${e.message}`);
    }
    const panels = [];
    const walk = (list) => list.forEach((p) => { panels.push(p); walk(p.panels ?? []); });
    walk(d.panels ?? []);
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        out.push({ where: `${file} panel '${p.title}' query ${t.refId}`, expr: substituteGrafanaVariables(t.expr ?? ''), panel: true });
      }
    }
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
      // label_values(selector, label) is Grafana's, not PromQL: check the selector.
      const m = /^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
      out.push({ where: `${file} variable $${v.name}`, expr: substituteGrafanaVariables(m ? m[1] : q), panel: true });
    }
  }
  return out;
}

// --- checking one expression ---------------------------------------------------

function unquote(literal) {
  if (literal.startsWith('"')) return JSON.parse(literal);
  return literal.slice(1, -1);  // '...' or `...`
}

// The selectors of `expr`: [{metric, matchers: [{label, op, value}]}], or
// {error} when lezer finds a syntax error.
function selectors(expr) {
  const tree = parser.parse(expr);
  let error = null;
  const found = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError && error === null) error = `syntax error at offset ${node.from}: '${expr.slice(node.from, node.from + 20)}'`;
      if (node.name !== 'VectorSelector') return;
      const sel = { metric: null, matchers: [] };
      const cursor = node.node.cursor();
      cursor.firstChild();
      do {
        if (cursor.name === 'Identifier') sel.metric = expr.slice(cursor.from, cursor.to);
        if (cursor.name === 'LabelMatchers') {
          for (let m = cursor.node.firstChild; m; m = m.nextSibling) {
            if (!/LabelMatcher$/.test(m.name)) continue;
            const name = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
            const op = m.getChild('MatchOp');
            const value = m.getChild('StringLiteral');
            if (!name || !op || !value) continue;
            let label = expr.slice(name.from, name.to);
            if (label.startsWith('"')) label = unquote(label);
            sel.matchers.push({ label, op: expr.slice(op.from, op.to), value: unquote(expr.slice(value.from, value.to)) });
          }
        }
      } while (cursor.nextSibling());
      const named = sel.matchers.find((m) => m.label === '__name__' && m.op === '=');
      if (sel.metric === null && named) sel.metric = named.value;
      found.push(sel);
    },
  });
  return error ? { error } : { selectors: found };
}

// The values a matcher on `role` allows, when it is a plain list ("a|b").
function rolesOf(matcher) {
  if (matcher.op === '=') return [matcher.value];
  if (matcher.op === '=~' && /^[a-z]+(\|[a-z]+)*$/.test(matcher.value)) return matcher.value.split('|');
  return null;
}

// Problems with one expression: [] when it is fine.
function checkExpression({ where, expr }, exports) {
  const parsed = selectors(expr);
  if (parsed.error) return [`${where}: '${expr}' does not parse: ${parsed.error}`];
  if (expr.includes('$')) return [`${where}: '${expr}' keeps a Grafana variable this check cannot substitute`];
  const problems = [];
  for (const sel of parsed.selectors) {
    if (sel.metric === null) {
      problems.push(`${where}: '${expr}' has a selector without a metric name`);
      continue;
    }
    if (PROMETHEUS_SERIES.has(sel.metric)) continue;
    const exporters = ROLES.filter((r) => exports.get(r).has(sel.metric));
    if (exporters.length === 0) {
      problems.push(`${where}: '${expr}' names ${sel.metric}, which no role exports (learner, refiner, actor scraped)`);
      continue;
    }
    const roleMatcher = sel.matchers.find((m) => m.label === 'role');
    const roles = roleMatcher ? rolesOf(roleMatcher) : null;
    const scope = roles ?? exporters;
    for (const r of roles ?? []) {
      if (!exports.has(r) || !exports.get(r).has(sel.metric)) {
        problems.push(`${where}: '${expr}' selects ${sel.metric} of role "${r}", which does not export it`);
      }
    }
    for (const m of sel.matchers) {
      if (m.label === '__name__' || m.label === 'role' || TARGET_LABELS.has(m.label)) continue;
      const values = new Set();
      let hasLabel = false;
      for (const r of scope) {
        const labels = exports.get(r)?.get(sel.metric);
        if (labels?.has(m.label)) {
          hasLabel = true;
          labels.get(m.label).forEach((v) => values.add(v));
        }
      }
      if (!hasLabel) {
        problems.push(`${where}: '${expr}': ${sel.metric} has no label ${m.label}`);
      } else if (m.op === '=' && !values.has(m.value)) {
        problems.push(`${where}: '${expr}': ${sel.metric} has no ${m.label}="${m.value}" (exported: ${[...values].sort().join(', ')})`);
      }
    }
  }
  return problems;
}

// promtool check rules on the expressions as recording rules: Prometheus' own
// parser. The output on failure, or null.
function promtoolCheck(promtool, expressions, file) {
  const doc = { groups: [{ name: 'gorl_expression_check', rules: expressions.map((e, i) => ({ record: `gorl_check:expr_${i}`, expr: e.expr })) }] };
  fs.writeFileSync(file, YAML.stringify(doc));
  const run = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
  if (run.error) return `cannot run ${promtool}: ${run.error.message}`;
  if (run.status === 0) return null;
  const where = (run.stdout + run.stderr).split('\n').filter((l) => l.trim()).join('\n  ');
  // Name the expressions by their generated record name's index.
  const named = where.replace(/gorl_check:expr_(\d+)/g, (_, i) => `${expressions[i]?.where ?? i}`);
  return named;
}

// Instant queries of `expressions` until each returns at least one sample
// (rates need two scrapes) or `seconds` pass; the ones still empty or failing.
async function emptyResults(url, expressions, seconds) {
  const pending = new Map(expressions.map((e) => [e.expr, e]));
  const why = new Map();
  const deadline = Date.now() + seconds * 1000;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const [expr] of pending) {
      try {
        const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = await response.json();
        if (body.status !== 'success') {
          why.set(expr, `Prometheus refused it: ${body.error}`);
        } else if ((body.data.resultType === 'vector' || body.data.resultType === 'matrix') && body.data.result.length === 0) {
          why.set(expr, 'returns no data');
        } else {
          pending.delete(expr);
        }
      } catch (e) {
        why.set(expr, `query failed: ${e.message}`);
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  return [...pending.values()].map((e) => `${e.where}: '${e.expr}' ${why.get(e.expr)} from a Prometheus scraping the real roles`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const outDir = path.resolve(args.out);
  fs.mkdirSync(outDir, { recursive: true });
  const exports = loadExports(args.scrapes);
  const expressions = [...ruleExpressions(args.rules), ...dashboardExpressions(args.dashboards)];
  const failures = [];
  let names = 0;
  for (const e of expressions) {
    failures.push(...checkExpression(e, exports));
    const parsed = selectors(e.expr);
    names += parsed.selectors?.length ?? 0;
  }
  const promtool = promtoolCheck(args.promtool, expressions, path.join(outDir, 'expressions.rules.yml'));
  if (promtool !== null) failures.push(`promtool check rules:\n  ${promtool}`);

  // Self-tests: each broken expression must be reported, naming the culprit.
  const selfTests = [
    { expr: 'sum(rate(gorl_bogus_metric_total[5m]))', expect: /names gorl_bogus_metric_total, which no role exports/ },
    { expr: 'gorl_inference_latency_seconds{role="actor"}', expect: /names gorl_inference_latency_seconds, which no role exports/ },
    { expr: 'gorl_stage{role="nobody"}', expect: /gorl_stage of role "nobody"/ },
    { expr: 'gorl_learner_phase{role="learner",phase="training"}', expect: /no phase="training"/ },
    { expr: 'gorl_connected_actors{role="learner",colour="red"}', expect: /no label colour/ },
    { expr: 'sum(gorl_env_steps_total', expect: /does not parse/ },
  ];
  for (const t of selfTests) {
    const got = checkExpression({ where: 'self-test', expr: t.expr }, exports);
    if (!got.some((p) => t.expect.test(p))) {
      failures.push(`self-test: '${t.expr}' was not reported as expected (${t.expect}); got: ${JSON.stringify(got)}`);
    }
  }
  if (promtoolCheck(args.promtool, [{ where: 'self-test', expr: 'sum(rate(gorl_env_steps_total[5m])' }], path.join(outDir, 'broken.rules.yml')) === null) {
    failures.push('self-test: promtool accepted an expression with an unclosed parenthesis');
  }

  const url = process.env.GORL_PROMETHEUS_URL;
  let queried = '';
  if (url) {
    const panels = expressions.filter((e) => e.panel);
    failures.push(...await emptyResults(url, panels, 90));
    // Once the real queries have data, one that selects nothing must be caught.
    const none = await emptyResults(url, [{ where: 'self-test', expr: 'gorl_stage{role="learner",instance="no-such-instance"}' }], 0.1);
    if (none.length !== 1) failures.push('self-test: a query that selects nothing was not reported as empty');
    queried = `; ${panels.length} dashboard queries return data from a real Prometheus`;
  }

  if (failures.length > 0) {
    console.error(failures.map((f) => `FAIL ${f}`).join('\n'));
    process.exit(1);
  }
  const exported = ROLES.map((r) => `${r} ${[...exports.get(r).keys()].filter((n) => n.startsWith('gorl_')).length}`).join(', ');
  console.log(`OK ${expressions.length} expressions (${names} selectors) parse and name only exported metrics ` +
    `(gorl_ samples: ${exported})${queried}; ${selfTests.length + 1 + (url ? 1 : 0)} broken expressions caught`);
}

await main();
