#!/usr/bin/env bash
# Mutation testing of the guards (claim and transition conditions) with mutmut 3: see RESULTS-mutation.md.
#
#   benchmarks/mutation.sh            the guard functions (CONDITIONS and DECISIONS below): what RESULTS-mutation.md reports
#   benchmarks/mutation.sh core       the CONDITIONS only (the claim and transition conditions themselves)
#   benchmarks/mutation.sh all        every function of the four files in [tool.mutmut] only_mutate (hours here)
#   benchmarks/mutation.sh NAME...    these mutants or globs, e.g. 'publisher.store.x_claim_due__mutmut_*'
#
# Configuration (files, test selection, fork server) is [tool.mutmut] in pyproject.toml. Results stay in
# mutants/ (git-ignored); `mutmut results` lists the survivors, `mutmut show NAME` shows one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}  # the project's venv, activated
CHILDREN=${MUTMUT_CHILDREN:-2}

CONDITIONS=(
  # store: the claim, the conditional UPDATE and the sweeper's queries
  'publisher.store.x_claim_due__mutmut_*'
  'publisher.store.x__update_sql__mutmut_*'
  'publisher.store.xǁTransitionǁ_key__mutmut_*'
  'publisher.store.x_touch_enqueued__mutmut_*'
  'publisher.store.x_stale_queued__mutmut_*'
  'publisher.store.x_expired_leases__mutmut_*'
  'publisher.store.x_due_unknown__mutmut_*'
  'publisher.store.x_stalled_successors__mutmut_*'
  'publisher.store.x_held_behind_released__mutmut_*'
  # scheduler: expiry
  'publisher.scheduling.xǁSchedulerǁ_expire__mutmut_*'
  # publish path: readiness, the recorded result, late success, successors, reconciliation's record
  'publisher.publishing.decide.x_ready__mutmut_*'  # decide.ready (was Publisher._ready)
  'publisher.publishing.decide.x_decide__mutmut_*'  # expired / early / waiting / held behind a stopped predecessor
  'publisher.publishing.decide.x_parent__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_result__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_record__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_wake_successors__mutmut_*'
  'publisher.publishing.reconcile.xǁReconcilingǁ_record_reconciled__mutmut_*'
)
DECISIONS=(
  # the code around the conditions that decides which transition to make
  'publisher.store.x_apply__mutmut_*'
  'publisher.scheduling.xǁSchedulerǁtick__mutmut_*'
  'publisher.scheduling.xǁSchedulerǁsweep__mutmut_*'
  'publisher.scheduling.xǁSchedulerǁ_threads__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_decide__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_claims__mutmut_*'
  'publisher.publishing.runner.xǁPublisherǁ_send_all__mutmut_*'
  'publisher.publishing.reconcile.xǁReconcilingǁreconcile__mutmut_*'
)

if [[ ${1:-} == all ]]; then
  names=()
elif [[ ${1:-} == core ]]; then
  names=("${CONDITIONS[@]}")
elif [[ $# -gt 0 ]]; then
  names=("$@")
else
  names=("${CONDITIONS[@]}" "${DECISIONS[@]}")
fi

rm -rf mutants  # a clean run: no result is carried over from an earlier one
start=$(date +%s)
"$PY" -m mutmut run --max-children "$CHILDREN" "${names[@]}" | tr '\r' '\n' | grep -v '^⠀\|^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]' || true
"$PY" -m mutmut export-cicd-stats >/dev/null
echo "wall time: $(( $(date +%s) - start )) s"
cat mutants/mutmut-cicd-stats.json
"$PY" -m mutmut results
