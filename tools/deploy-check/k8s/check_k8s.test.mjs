// The checks of check_k8s.mjs reject broken manifests: each case breaks one
// thing in a really rendered document and expects the check that should
// catch it to name it (and the unbroken documents to pass, so that the
// failures are the breakage's). Run: node --test k8s/check_k8s.test.mjs
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { REPO_ROOT } from "./generated.mjs";

import { RENDERS, checkGenerated, render } from "../check_k8s.mjs";
import { typecheck, validateSchemas } from "./validate.mjs";
import { checkRender, podTemplates } from "./invariants.mjs";

const byName = {};
before(() => {
  for (const r of RENDERS.filter((x) => ["jobset/cpu", "plain/cpu"].includes(x.name))) {
    byName[r.name] = { render: r, docs: render(r.dir) };
  }
});

const copy = (value) => structuredClone(value);
const jobSet = () => copy(byName["jobset/cpu"].docs.find((d) => d.kind === "JobSet"));
const learnerJob = () => copy(byName["plain/cpu"].docs.find((d) => d.kind === "Job"));
const jobSetPod = (js, name) => js.spec.replicatedJobs.find((r) => r.name === name).template.spec.template.spec;
const matching = (errors, pattern) => errors.filter((e) => pattern.test(e));

// A copy of `make()` changed by `change`.
const edited = (make, change) => () => {
  const doc = make();
  change(doc);
  return doc;
};

// One tsc run for every case (tsc takes seconds): label -> broken document.
const tscCases = {
  "core wrong type": edited(learnerJob, (j) => (j.spec.backoffLimit = "3")),
  "core unknown field": edited(learnerJob, (j) => (j.spec.template.spec.containers[0].imagePullPolicyy = "Always")),
  "jobset wrong type": edited(jobSet, (js) => (js.spec.replicatedJobs[2].replicas = "2")),
  "jobset unknown field": edited(jobSet, (js) => (js.spec.failurePolicy.maxRestart = 3)),
  "jobset unknown pod field": edited(jobSet, (js) => (jobSetPod(js, "learner").containers[0].resource = {})),
  "jobset bad action": edited(jobSet, (js) => (js.spec.failurePolicy.rules[0].action = "RecreateJob")),
};

describe("schemas", () => {
  let tscErrors;
  before(() => {
    const docs = Object.entries(tscCases).map(([label, make]) => ({ label, doc: make() }));
    docs.push({ label: "unbroken JobSet", doc: jobSet() }, { label: "unbroken Job", doc: learnerJob() });
    tscErrors = typecheck(docs);
  });

  test("the unbroken documents pass both", () => {
    assert.deepEqual(validateSchemas([{ label: "js", doc: jobSet() }, { label: "job", doc: learnerJob() }]), []);
    assert.deepEqual(matching(tscErrors, /^unbroken/), []);
  });

  test("core kind: a wrong type fails the runtime check and tsc", () => {
    const doc = tscCases["core wrong type"]();
    assert.match(validateSchemas([{ label: "x", doc }]).join("\n"), /backoffLimit must be integer/);
    assert.equal(matching(tscErrors, /^core wrong type .*not assignable to type 'number'/).length, 1, tscErrors.join("\n"));
  });

  test("core kind: an unknown field fails tsc (the models' runtime check allows it)", () => {
    const doc = tscCases["core unknown field"]();
    assert.deepEqual(validateSchemas([{ label: "x", doc }]), []);
    assert.equal(matching(tscErrors, /^core unknown field .*'"?imagePullPolicyy"?' does not exist/).length, 1, tscErrors.join("\n"));
  });

  test("JobSet: a wrong type fails the runtime check and tsc", () => {
    const doc = tscCases["jobset wrong type"]();
    assert.match(validateSchemas([{ label: "x", doc }]).join("\n"), /replicatedJobs\/2\/replicas: must be integer/);
    assert.equal(matching(tscErrors, /^jobset wrong type .*not assignable to type 'number'/).length, 1, tscErrors.join("\n"));
  });

  test("JobSet: an unknown field fails the runtime check and tsc", () => {
    const doc = tscCases["jobset unknown field"]();
    assert.match(validateSchemas([{ label: "x", doc }]).join("\n"), /unknown field 'maxRestart'/);
    assert.equal(matching(tscErrors, /^jobset unknown field .*'"?maxRestart"?' does not exist in type 'IFailurePolicy'/).length, 1, tscErrors.join("\n"));
  });

  test("JobSet: the embedded pod spec is typed (unknown field) and validated (wrong type)", () => {
    assert.equal(matching(tscErrors, /^jobset unknown pod field .*'"?resource"?' does not exist in type 'IContainer'/).length, 1, tscErrors.join("\n"));
    const js = jobSet();
    jobSetPod(js, "actors").containers[0].ports[0].containerPort = "9100";
    assert.match(validateSchemas([{ label: "x", doc: js }]).join("\n"), /containerPort must be integer/);
  });

  test("JobSet: an action the v1alpha2 API does not define fails both", () => {
    const doc = tscCases["jobset bad action"]();
    assert.match(validateSchemas([{ label: "x", doc }]).join("\n"), /action: must be one of .* is "RecreateJob"/);
    assert.equal(matching(tscErrors, /^jobset bad action .*"RecreateJob"/).length, 1, tscErrors.join("\n"));
  });

  test("a kind without a schema is an error, not a pass", () => {
    const doc = { apiVersion: "v1", kind: "Secret", metadata: { name: "x" } };
    assert.match(validateSchemas([{ label: "x", doc }]).join("\n"), /no schema for apiVersion v1, kind Secret/);
  });
});

describe("invariants", () => {
  // Runs checkRender on a copy of a render whose documents `breakIt` edits.
  const broken = (name, breakIt) => {
    const { render: r, docs } = byName[name];
    const edited = copy(docs);
    breakIt(edited);
    return checkRender(r, edited);
  };
  const pods = (docs) => podTemplates(docs);
  const role = (docs, component) => pods(docs).find((p) => p.labels["app.kubernetes.io/component"] === component);

  test("the unbroken renders pass", () => {
    for (const name of Object.keys(byName)) assert.deepEqual(checkRender(byName[name].render, byName[name].docs), []);
  });

  for (const name of ["jobset/cpu", "plain/cpu"]) {
    test(`${name}: a container without securityContext`, () => {
      const errors = broken(name, (docs) => delete role(docs, "refiner").spec.containers[0].securityContext);
      assert.match(errors.join("\n"), /container refiner: no securityContext/);
    });
    test(`${name}: a writable root filesystem`, () => {
      const errors = broken(name, (docs) => (role(docs, "actor").spec.containers[0].securityContext.readOnlyRootFilesystem = false));
      assert.match(errors.join("\n"), /readOnlyRootFilesystem is false, want true/);
    });
    test(`${name}: no readiness probe on the learner`, () => {
      const errors = broken(name, (docs) => delete role(docs, "learner").spec.containers[0].readinessProbe);
      assert.match(errors.join("\n"), /readinessProbe is not gRPC/);
    });
    test(`${name}: no memory limit`, () => {
      const errors = broken(name, (docs) => delete role(docs, "actor").spec.containers[0].resources.limits.memory);
      assert.match(errors.join("\n"), /no resources.limits.memory/);
    });
    test(`${name}: a GPU outside the gpu overlay`, () => {
      const errors = broken(name, (docs) => (role(docs, "learner").spec.containers[0].resources.limits["nvidia.com/gpu"] = "1"));
      assert.match(errors.join("\n"), /mentions nvidia.com\/gpu outside a gpu overlay/);
    });
    test(`${name}: actors dialling a name Kubernetes will not give`, () => {
      const errors = broken(name, (docs) => {
        const args = role(docs, "actor").spec.containers[0].args;
        args[args.findIndex((a) => a.startsWith("--learner="))] = "--learner=learner:50051";
      });
      assert.match(errors.join("\n"), /--learner is learner:50051, want/);
    });
    test(`${name}: a learner command that would not resume`, () => {
      const errors = broken(name, (docs) => {
        const args = role(docs, "learner").spec.containers[0].args;
        args.splice(args.indexOf("--resume_if_present"), 1, "--overwrite");
      });
      assert.match(errors.join("\n"), /no --resume_if_present \(a restart would not resume\)/);
      assert.match(errors.join("\n"), /--overwrite \(the same command must start and resume the run\)/);
    });
    test(`${name}: a shell instead of the image's entrypoint`, () => {
      const errors = broken(name, (docs) => (role(docs, "refiner").spec.containers[0].command = ["/bin/sh", "-c"]));
      assert.match(errors.join("\n"), /container refiner: overrides the image's entrypoint/);
    });
    test(`${name}: a role the PodMonitor does not select`, () => {
      const errors = broken(name, (docs) => (role(docs, "refiner").labels["app.kubernetes.io/name"] = "refiner"));
      assert.match(errors.join("\n"), /the PodMonitor does not select it/);
    });
  }

  test("jobset/cpu: an actor failure that would count against maxRestarts", () => {
    const errors = broken("jobset/cpu", (docs) => {
      docs.find((d) => d.kind === "JobSet").spec.failurePolicy.rules.find((r) => r.name === "actorFailed").action = "RestartJob";
    });
    assert.match(errors.join("\n"), /a failed actors job meets rule actorFailed \(RestartJob\)/);
  });

  test("plain/cpu: a Service that selects no learner", () => {
    const errors = broken("plain/cpu", (docs) => {
      docs.find((d) => d.kind === "Service" && d.metadata.name === "gorl-learner").spec.selector["app.kubernetes.io/name"] = "x";
    });
    assert.match(errors.join("\n"), /Service\/gorl-learner: its selector does not select the learner pods/);
  });

  test("a PrometheusRule that differs from deploy/prometheus/rules.yml", () => {
    const { render: r, docs } = byName["plain/cpu"];
    assert.deepEqual(checkGenerated([{ render: r, docs }]), []);
    const edited = copy(docs);
    edited.find((d) => d.kind === "PrometheusRule").spec.groups[0].rules[0].expr = "up == 0";
    assert.match(checkGenerated([{ render: r, docs: edited }]).join("\n"), /PrometheusRule's groups differ/);
  });
});

test("check_k8s.mjs exits 1, naming the problem, when an overlay is broken", () => {
  const root = mkdtempSync(join(tmpdir(), "gorl-k8s-broken-"));
  try {
    cpSync(join(REPO_ROOT, "deploy"), join(root, "deploy"), { recursive: true });
    const file = join(root, "deploy/k8s/jobset/base/jobset.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("maxRestarts: 5", 'maxRestarts: "5"'));
    const run = spawnSync(process.execPath, [fileURLToPath(new URL("../check_k8s.mjs", import.meta.url))], {
      encoding: "utf8",
      env: { ...process.env, GORL_K8S_RENDER_ROOT: root },
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /FAIL schema: jobset\/cpu: JobSet\/gorl: JobSet\/spec\/failurePolicy\/maxRestarts: must be integer/);
    assert.match(run.stderr, /FAIL tsc: jobset\/gpu: JobSet\/gorl .*not assignable to type 'number'/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
