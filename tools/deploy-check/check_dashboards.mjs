#!/usr/bin/env node
// Checks deploy/grafana: every dashboard JSON type-checked by `tsc --noEmit`
// against @grafana/schema (grafana_types.ts), plus what types cannot say
// (unique uids and panel ids, the provisioned datasource uid). Proves the
// type check bites: broken copies of a dashboard (an unknown field, a wrong
// type, an unknown option, another datasource) must each be rejected.
//
// Usage: node check_dashboards.mjs --grafana DIR --out DIR
//   --grafana  deploy/grafana (dashboards/, provisioning/)
//   --out      a scratch directory for the generated .ts files (build dir)
// Exit 0 when everything holds; 1 with the reasons otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATASOURCE_UID = 'gorl-prometheus';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`usage: check_dashboards.mjs --grafana DIR --out DIR (at '${argv[i]}')`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const needed of ['grafana', 'out']) {
    if (!args[needed]) throw new Error(`missing --${needed}`);
  }
  return args;
}

const failures = [];
const fail = (message) => failures.push(message);

// The dashboards, parsed: [{file, name, json}].
function loadDashboards(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) fail(`${dir}: no dashboards`);
  const dashboards = [];
  for (const file of files) {
    const full = path.join(dir, file);
    try {
      dashboards.push({ file: full, name: path.basename(file, '.json'), json: JSON.parse(fs.readFileSync(full, 'utf8')) });
    } catch (e) {
      fail(`${full}: not JSON: ${e.message}`);
    }
  }
  return dashboards;
}

// What the types do not cover.
function checkStructure(dashboards) {
  const uids = new Map();
  for (const { file, json } of dashboards) {
    if (uids.has(json.uid)) fail(`${file}: uid '${json.uid}' also in ${uids.get(json.uid)}`);
    uids.set(json.uid, file);
    const ids = new Set();
    for (const panel of json.panels ?? []) {
      if (ids.has(panel.id)) fail(`${file}: panel id ${panel.id} used twice ('${panel.title}')`);
      ids.add(panel.id);
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
        fail(`${file}: panel '${panel.title}' has no query`);
      }
      const refIds = new Set();
      for (const target of panel.targets ?? []) {
        if (refIds.has(target.refId)) fail(`${file}: panel '${panel.title}': refId ${target.refId} twice`);
        refIds.add(target.refId);
        if (typeof target.expr !== 'string' || target.expr.trim() === '') {
          fail(`${file}: panel '${panel.title}' query ${target.refId} has no expression`);
        }
      }
    }
  }
}

// The provisioning files agree with the dashboards: the datasource they name
// exists with that uid, and the provider loads a folder.
function checkProvisioning(grafanaDir) {
  const dsFile = path.join(grafanaDir, 'provisioning/datasources/prometheus.yml');
  const provFile = path.join(grafanaDir, 'provisioning/dashboards/gorl.yml');
  try {
    const ds = YAML.parse(fs.readFileSync(dsFile, 'utf8'));
    const found = (ds.datasources ?? []).filter((d) => d.uid === DATASOURCE_UID);
    if (found.length !== 1) fail(`${dsFile}: needs exactly one datasource with uid ${DATASOURCE_UID}`);
    else if (found[0].type !== 'prometheus') fail(`${dsFile}: ${DATASOURCE_UID} is not of type prometheus`);
  } catch (e) {
    fail(`${dsFile}: ${e.message}`);
  }
  try {
    const prov = YAML.parse(fs.readFileSync(provFile, 'utf8'));
    const providers = prov.providers ?? [];
    if (providers.length === 0 || providers.some((p) => p.type !== 'file' || !p.options?.path)) {
      fail(`${provFile}: needs file providers with options.path`);
    }
  } catch (e) {
    fail(`${provFile}: ${e.message}`);
  }
}

// Broken copies that tsc must reject, each with what the error must mention.
function brokenVariants(dashboard) {
  const copy = () => structuredClone(dashboard.json);
  const ts = (d) => d.panels.findIndex((p) => p.type === 'timeseries');
  const variants = [];
  let d = copy();
  d.panels[0].bogusField = 1;
  variants.push({ name: 'unknown_panel_field', json: d, expect: /bogusField/ });
  d = copy();
  d.panels[0].title = 42;
  variants.push({ name: 'wrong_type', json: d, expect: /number.*not assignable to type 'string'/ });
  d = copy();
  d.panels[ts(d)].options.tooltip.bogusOption = true;
  variants.push({ name: 'unknown_option', json: d, expect: /.+/ });
  d = copy();
  d.panels[0].targets[0].datasource.uid = 'some-other-datasource';
  variants.push({ name: 'other_datasource', json: d, expect: /some-other-datasource/ });
  d = copy();
  d.schemaVersion = '41';
  variants.push({ name: 'top_level_wrong_type', json: d, expect: /string.*not assignable to type 'number'/ });
  return variants;
}

function tsSource(typesPath, json) {
  // A literal, not a JSON import: only object literals get excess-property checks.
  return `import type { GorlDashboard } from ${JSON.stringify(typesPath)};\n` +
    `export const dashboard: GorlDashboard = ${JSON.stringify(json, null, 2)};\n`;
}

// Runs tsc once over every file; its errors by absolute file name.
function typeCheck(outDir, files) {
  const tsconfig = {
    compilerOptions: {
      strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022',
      skipLibCheck: true, types: [], typeRoots: [],
    },
    files: files.map((f) => path.relative(outDir, f)),
  };
  fs.writeFileSync(path.join(outDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = path.join(here, 'node_modules/typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', outDir, '--pretty', 'false'], { cwd: outDir, encoding: 'utf8' });
  if (run.error) throw run.error;
  const errors = new Map(files.map((f) => [f, []]));
  let last = null;
  for (const line of (run.stdout + run.stderr).split('\n')) {
    const m = /^(.+?)\(\d+,\d+\): error TS\d+: /.exec(line);
    if (m) {
      last = path.resolve(outDir, m[1]);
      if (!errors.has(last)) errors.set(last, []);
      errors.get(last).push(line);
    } else if (line.trim() !== '' && last) {
      errors.get(last).push(line);
    } else if (line.trim() !== '') {
      fail(`tsc: ${line}`);
    }
  }
  return errors;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const grafanaDir = path.resolve(args.grafana);
  const outDir = path.resolve(args.out);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const typesPath = path.join(here, 'grafana_types');

  const dashboards = loadDashboards(path.join(grafanaDir, 'dashboards'));
  checkStructure(dashboards);
  checkProvisioning(grafanaDir);

  const clean = [];
  const broken = [];
  for (const d of dashboards) {
    const file = path.join(outDir, `${d.name}.ts`);
    fs.writeFileSync(file, tsSource(typesPath, d.json));
    clean.push({ file, source: d.file });
  }
  if (dashboards.length > 0) {
    for (const v of brokenVariants(dashboards[0])) {
      const file = path.join(outDir, `broken_${v.name}.ts`);
      fs.writeFileSync(file, tsSource(typesPath, v.json));
      broken.push({ file, ...v });
    }
  }
  const errors = typeCheck(outDir, [...clean, ...broken].map((f) => f.file));
  for (const { file, source } of clean) {
    for (const e of errors.get(file) ?? []) fail(`${source}: ${e.replace(/^.+?\(/, '(')}`);
  }
  for (const { file, name, expect } of broken) {
    const found = errors.get(file) ?? [];
    if (!found.some((e) => expect.test(e))) {
      fail(`self-test: the type check accepted a dashboard with ${name.replaceAll('_', ' ')} ` +
        `(${found.length} errors${found.length ? ': ' + found[0] : ''})`);
    }
  }
  for (const [file, list] of errors) {
    if (![...clean, ...broken].some((f) => f.file === file) && list.length) fail(list.join('\n'));
  }

  if (failures.length > 0) {
    console.error(failures.map((f) => `FAIL ${f}`).join('\n'));
    process.exit(1);
  }
  console.log(`OK ${dashboards.length} dashboards type-check against @grafana/schema ` +
    `(${dashboards.map((d) => d.json.panels.length).join(' + ')} panels); ` +
    `${broken.length} broken copies rejected`);
}

main();
