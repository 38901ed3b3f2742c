#!/usr/bin/env node
// Writes deploy/k8s/common/prometheusrule.yaml (from
// deploy/prometheus/rules.yml) and deploy/k8s/common/run.textproto (from
// configs/local.textproto). Run it after changing either source; ctest
// deploy_k8s fails until you do.
import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import { GENERATED, REPO_ROOT } from "./k8s/generated.mjs";

for (const { file, render } of GENERATED) {
  writeFileSync(file, render());
  console.log(`wrote ${relative(REPO_ROOT, file)}`);
}
