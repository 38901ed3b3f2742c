# The shell tests' assertions (tests/cli_test.sh, tests/sweep_report_test.sh),
# sourced: `check NAME COMMAND...` runs COMMAND and counts it as a pass when
# it exits 0; `checks_summary` prints the count and fails if any failed.
failures=0
total=0
check() {  # check NAME CONDITION-COMMAND...
  local name="$1"; shift
  total=$((total + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
checks_summary() {
  echo "$((total - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
