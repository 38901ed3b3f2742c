#!/usr/bin/env node
// ctest deploy_k8s (through check_k8s.sh): renders every kustomization of
// deploy/k8s with `kubectl kustomize` (or $KUBECTL), then
//   1. validates every document against its schema (kubernetes-models,
//      prometheus-operator models, and the JobSet fields of k8s/jobset*.ts/mjs);
//   2. type-checks every document as a TypeScript object literal (tsc
//      --noEmit), which rejects unknown fields;
//   3. checks what the manifests must do (k8s/invariants.mjs);
//   4. checks that the PrometheusRule has the groups of
//      deploy/prometheus/rules.yml and that the generated files are current.
// Schema validation only, not a server dry run: no API server is involved.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";

import { GENERATED, REPO_ROOT, RENDER_COMMAND, renderRunConfig, rulesGroups } from "./k8s/generated.mjs";
import { describe, typecheck, validateSchemas } from "./k8s/validate.mjs";
import { checkRender, podTemplates } from "./k8s/invariants.mjs";

export const RENDERS = [
  { name: "jobset/cpu", dir: "deploy/k8s/jobset/overlays/cpu", topology: "jobset", gpu: false },
  { name: "jobset/gpu", dir: "deploy/k8s/jobset/overlays/gpu", topology: "jobset", gpu: true },
  { name: "plain/cpu", dir: "deploy/k8s/plain/overlays/cpu", topology: "plain", gpu: false },
  { name: "plain/gpu", dir: "deploy/k8s/plain/overlays/gpu", topology: "plain", gpu: true },
  { name: "plain/hpa", dir: "deploy/k8s/plain/hpa", topology: "addon", gpu: false },
  { name: "examples/assets-hostpath", dir: "deploy/k8s/examples/assets-hostpath", topology: "addon", gpu: false },
];

const KUBECTL = process.env.KUBECTL || "kubectl";
// Where the RENDERS directories are (the repository; a test points it at a
// broken copy to see the whole check fail).
const RENDER_ROOT = process.env.GORL_K8S_RENDER_ROOT || REPO_ROOT;

// The documents `kubectl kustomize DIR` renders. Throws with a message that
// says what to install when there is no kubectl.
export function render(dir) {
  const run = spawnSync(KUBECTL, ["kustomize", join(RENDER_ROOT, dir)], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (run.error?.code === "ENOENT") {
    throw new Error(
      `${KUBECTL} not found: install kubectl (Debian 12: apt-get install kubernetes-client, whose ` +
        "kustomize v2.0.3 renders these manifests; or kubectl 1.21+ from Kubernetes), or set KUBECTL",
    );
  }
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`${KUBECTL} kustomize ${dir} failed:\n${run.stderr}`);
  const docs = [];
  for (const parsed of YAML.parseAllDocuments(run.stdout)) {
    if (parsed.errors.length) throw new Error(`${dir}: unparsable output: ${parsed.errors[0].message}`);
    const doc = parsed.toJSON();
    if (doc !== null) docs.push(doc);
  }
  if (docs.length === 0) throw new Error(`${KUBECTL} kustomize ${dir} rendered nothing`);
  return docs;
}

export function checkGenerated(rendered) {
  const errors = [];
  for (const { file, render: make } of GENERATED) {
    if (!existsSync(file) || readFileSync(file, "utf8") !== make()) {
      errors.push(`${relative(REPO_ROOT, file)} is out of date with its source: run ${RENDER_COMMAND}`);
    }
  }
  const groups = rulesGroups();
  for (const { render: r, docs } of rendered) {
    if (r.topology === "addon") continue;
    const rules = docs.filter((d) => d.kind === "PrometheusRule");
    if (rules.length !== 1 || !isDeepStrictEqual(rules[0].spec?.groups, groups)) {
      errors.push(`${r.name}: the PrometheusRule's groups differ from deploy/prometheus/rules.yml (run ${RENDER_COMMAND})`);
    }
    const config = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "gorl-config");
    if (config?.data?.["run.textproto"] !== renderRunConfig()) {
      errors.push(`${r.name}: ConfigMap gorl-config's run.textproto is not configs/local.textproto (run ${RENDER_COMMAND})`);
    }
  }
  return errors;
}

function main() {
  const failures = [];
  const rendered = [];
  for (const r of RENDERS) {
    try {
      rendered.push({ render: r, docs: render(r.dir) });
    } catch (error) {
      console.error(`deploy_k8s: ${error.message}`);
      process.exit(1);
    }
  }
  const labelled = rendered.flatMap(({ render: r, docs }) => docs.map((doc) => ({ label: `${r.name}: ${describe(doc)}`, doc })));
  failures.push(...validateSchemas(labelled).map((e) => `schema: ${e}`));
  failures.push(...typecheck(labelled).map((e) => `tsc: ${e}`));
  for (const { render: r, docs } of rendered) {
    failures.push(...checkRender(r, docs).map((e) => `${r.name}: ${e}`));
  }
  // The HPA scales the plain topology's actor Deployment.
  const plain = rendered.find(({ render: r }) => r.name === "plain/cpu").docs;
  for (const { docs } of rendered.filter(({ render: r }) => r.topology === "addon")) {
    for (const hpa of docs.filter((d) => d.kind === "HorizontalPodAutoscaler")) {
      const ref = hpa.spec.scaleTargetRef;
      if (!plain.some((d) => d.kind === ref.kind && d.metadata.name === ref.name && d.apiVersion === ref.apiVersion)) {
        failures.push(`plain/hpa: ${describe(hpa)} scales ${ref.kind}/${ref.name}, which plain/cpu does not have`);
      }
    }
  }
  // The assets example provides the claim the pods mount at /assets.
  const example = rendered.find(({ render: r }) => r.name === "examples/assets-hostpath").docs;
  for (const { where, spec } of podTemplates(plain)) {
    for (const c of spec.containers ?? []) {
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === "/assets");
      const claim = (spec.volumes ?? []).find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
      if (mount && !example.some((d) => d.kind === "PersistentVolumeClaim" && d.metadata.name === claim)) {
        failures.push(`examples/assets-hostpath: no claim ${claim}, which ${where} mounts at /assets`);
      }
    }
  }
  failures.push(...checkGenerated(rendered));

  const kinds = [...new Set(labelled.map(({ doc }) => doc.kind))].sort().join(", ");
  if (failures.length) {
    for (const f of failures) console.error(`FAIL ${f}`);
    console.error(`deploy_k8s: ${failures.length} problems in ${labelled.length} documents of ${rendered.length} renders`);
    process.exit(1);
  }
  console.log(
    `deploy_k8s: ${labelled.length} documents (${kinds}) of ${rendered.length} renders ` +
      `(${RENDERS.map((r) => r.name).join(", ")}) pass the schemas, tsc and the invariants`,
  );
}

// Run as a script (not when the tests import it). Compared as resolved file
// URLs: a path with spaces or a symlink must not skip the checks silently.
if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) main();
