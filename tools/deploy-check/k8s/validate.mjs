// Validation of rendered Kubernetes manifests against schemas:
//   validateSchemas: each document with its kubernetes-models class (core
//     kinds, prometheus-operator's PodMonitor / PrometheusRule) or, for a
//     JobSet, jobset_schema.mjs. Catches wrong types, missing required
//     fields and bad enums; it does NOT catch unknown fields (the models'
//     JSON schemas allow extra properties), hence:
//   typecheck: every document written out as a typed TypeScript object
//     literal (`const m: IJob = {...}`) and `tsc --noEmit` over all of them,
//     whose excess-property checks reject unknown fields at any depth.
// Schema validation only: no API server, admission webhook or operator is
// involved (defaults, CEL rules and webhooks of the real cluster are not
// applied).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { PersistentVolume } from "kubernetes-models/v1/PersistentVolume";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { validateJobSet } from "./jobset_schema.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = join(HERE, "..");

// apiVersion/kind -> runtime model and TypeScript interface. A kind not
// listed here is an error: every kind the manifests use must be checked.
export const KINDS = {
  "v1/ConfigMap": { model: ConfigMap, ts: ["IConfigMap", "kubernetes-models/v1/ConfigMap"] },
  "v1/PersistentVolumeClaim": {
    model: PersistentVolumeClaim,
    ts: ["IPersistentVolumeClaim", "kubernetes-models/v1/PersistentVolumeClaim"],
  },
  "v1/PersistentVolume": {
    model: PersistentVolume,
    ts: ["IPersistentVolume", "kubernetes-models/v1/PersistentVolume"],
  },
  "v1/Service": { model: Service, ts: ["IService", "kubernetes-models/v1/Service"] },
  "apps/v1/Deployment": { model: Deployment, ts: ["IDeployment", "kubernetes-models/apps/v1/Deployment"] },
  "batch/v1/Job": { model: Job, ts: ["IJob", "kubernetes-models/batch/v1/Job"] },
  "autoscaling/v2/HorizontalPodAutoscaler": {
    model: HorizontalPodAutoscaler,
    ts: ["IHorizontalPodAutoscaler", "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler"],
  },
  "monitoring.coreos.com/v1/PodMonitor": {
    model: PodMonitor,
    ts: ["IPodMonitor", "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor"],
  },
  "monitoring.coreos.com/v1/PrometheusRule": {
    model: PrometheusRule,
    ts: ["IPrometheusRule", "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule"],
  },
  "jobset.x-k8s.io/v1alpha2/JobSet": { validate: validateJobSet, ts: ["IJobSet", "../k8s/jobset.js"] },
};

export function describe(doc) {
  return `${doc?.kind ?? "?"}/${doc?.metadata?.name ?? "?"}`;
}

// Runtime schema validation. `docs`: [{label, doc}]; returns error strings.
export function validateSchemas(docs) {
  const errors = [];
  for (const { label, doc } of docs) {
    const kind = KINDS[`${doc?.apiVersion}/${doc?.kind}`];
    if (!kind) {
      errors.push(`${label}: no schema for apiVersion ${doc?.apiVersion}, kind ${doc?.kind}`);
      continue;
    }
    if (kind.validate) {
      for (const error of kind.validate(doc)) errors.push(`${label}: ${error}`);
      continue;
    }
    try {
      new kind.model(doc).validate();
    } catch (error) {
      errors.push(`${label}: ${error.message}`);
    }
  }
  return errors;
}

// The TypeScript pass. `docs`: [{label, doc}]; returns error strings, each
// naming the document (label) it is about.
export function typecheck(docs) {
  // Under this package so that node_modules and ../k8s/jobset.ts resolve.
  const dir = mkdtempSync(join(PACKAGE_DIR, ".tsc-k8s-"));
  try {
    const files = [];
    const labels = new Map();
    docs.forEach(({ label, doc }, i) => {
      const kind = KINDS[`${doc?.apiVersion}/${doc?.kind}`];
      if (!kind) return;  // validateSchemas reports it
      const [type, module] = kind.ts;
      // .mts: an ES module whatever ../package.json's "type" says (imports
      // then name their file: ../k8s/jobset.js is jobset.ts to tsc).
      const file = `doc${String(i).padStart(3, "0")}.mts`;
      labels.set(file, label);
      files.push(file);
      writeFileSync(
        join(dir, file),
        `// ${label}\nimport type { ${type} } from "${module}";\n` +
          `export const manifest: ${type} = ${JSON.stringify(doc, null, 2)};\n`,
      );
    });
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "es2020",
          module: "node16",
          moduleResolution: "node16",
          types: [],
          skipLibCheck: true,
        },
        files,
      }),
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const run = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json"), "--pretty", "false"], {
      encoding: "utf8",
    });
    if (run.error) throw run.error;
    if (run.status === 0) return [];
    const errors = [];
    for (const line of `${run.stdout}${run.stderr}`.split("\n")) {
      if (!line.trim()) continue;
      const match = /(doc\d+\.mts)\((\d+),\d+\): (.*)$/.exec(line);
      if (match) {
        // The JSON starts on line 3 of the file (after the comment and import).
        errors.push(`${labels.get(match[1])} (line ${match[2] - 2} of its JSON): ${match[3]}`);
      } else if (/error TS/.test(line) || errors.length === 0) {
        errors.push(`tsc: ${line}`);
      } else {
        errors[errors.length - 1] += ` ${line.trim()}`;  // continuation of a message
      }
    }
    if (errors.length === 0) errors.push(`tsc exited ${run.status} without errors it could name`);
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
