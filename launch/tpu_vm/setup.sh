#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Remote snippets are single-quoted on purpose ($HOME expands on the worker):
# shellcheck disable=SC2016
# Install drl_jax on every worker of a TPU VM / pod slice.
#
#   launch/tpu_vm/setup.sh --name drl-pod --zone us-central2-b --type v4-32
#   launch/tpu_vm/setup.sh --name drl-pod --zone us-central2-b \
#       --git-url https://github.com/ORG/drl_jax.git --git-ref main
#
# Source: by default this checkout's working tree (tracked and untracked,
# not ignored, files; no .git, no venvs), packed into a tarball and copied to
# every worker with `gcloud compute tpus tpu-vm scp --worker=all`; or, with
# --git-url, a `git clone` on every worker.
# Then on every worker (`--worker=all`): a Python >= 3.11 venv in
# ~/drl_jax_venv (pyproject.toml requires 3.11; when the image's python3 is
# older, python3.11 is apt-installed) and
# `pip install -e ~/drl_jax "jax[tpu]"` in one resolver run, so the jax that
# is picked satisfies drl_jax's own pin.
# Rerunning setup.sh replaces ~/drl_jax and reinstalls; results in gs://
# are untouched.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: setup.sh --name NAME --zone ZONE [--type TYPE | --workers N]
                [--project PROJECT] [--repo DIR | --git-url URL [--git-ref REF]]
                [--python PYTHON] [--dry-run]

Install drl_jax on every worker of the TPU VM NAME (gcloud --worker=all).

  --name NAME        TPU node name
  --zone ZONE        its zone
  --type TYPE        accelerator type (e.g. v4-32); only used to list the workers
  --workers N        number of workers (hosts), instead of --type
  --project PROJECT  Google Cloud project (default: gcloud's configured one)
  --repo DIR         local drl_jax checkout to copy (default: the one holding
                     this script)
  --git-url URL      instead of copying, `git clone URL` on every worker
  --git-ref REF      branch, tag or commit to check out after the clone
  --python PYTHON    interpreter for the venv on the workers (default: python3
                     when it is >= 3.11, else python3.11; apt-installed with
                     its -venv package when missing)
  --dry-run          print every command instead of running it
  -h, --help         show this help
EOF
}

NAME='' ZONE='' TYPE='' NWORKERS='' PROJECT='' REPO='' GIT_URL='' GIT_REF=''
PYTHON=''
while (($#)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --type) TYPE=$(flag_value "$@"); shift 2 ;;
    --workers) NWORKERS=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --repo) REPO=$(flag_value "$@"); shift 2 ;;
    --git-url) GIT_URL=$(flag_value "$@"); shift 2 ;;
    --git-ref) GIT_REF=$(flag_value "$@"); shift 2 ;;
    --python) PYTHON=$(flag_value "$@"); shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$NAME" --name
require "$ZONE" --zone
validate_name "$NAME"
validate_zone "$ZONE"
[[ -z $REPO || -z $GIT_URL ]] || usage_error "--repo and --git-url exclude each other"
[[ -z $GIT_REF || -n $GIT_URL ]] || usage_error "--git-ref needs --git-url"
[[ -z $PYTHON || $PYTHON =~ ^python3(\.[0-9]+)?$ ]] ||
  usage_error "--python must look like python3 or python3.11, got '$PYTHON'"
if [[ -n $NWORKERS ]]; then
  validate_count "$NWORKERS" --workers
elif [[ -n $TYPE ]]; then
  NWORKERS=$(workers_for_type "$TYPE") ||
    usage_error "unknown --type '$TYPE' (not in the worker table); pass --workers N"
fi
need_gcloud

mapfile -t SCOPE < <(gcloud_scope "$ZONE" "$PROJECT")

# --- 1. Get the source onto every worker, as ~/drl_jax --------------------
if [[ -n $GIT_URL ]]; then
  FETCH="rm -rf $REMOTE_REPO && git clone $(shell_quote "$GIT_URL") $REMOTE_REPO"
  if [[ -n $GIT_REF ]]; then
    FETCH+=" && git -C $REMOTE_REPO checkout $(shell_quote "$GIT_REF")"
  fi
else
  REPO=${REPO:-$(cd "$SCRIPT_DIR/../.." && pwd)}
  [[ -f $REPO/pyproject.toml ]] || usage_error "--repo '$REPO' has no pyproject.toml"
  git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    usage_error "--repo '$REPO' is not a git checkout (needed to list its files); use --git-url"
  if [[ $DRY_RUN == 1 ]]; then
    TARBALL='<tmpdir>/drl_jax_src.tar.gz'
  else
    TMPDIR_LOCAL=$(mktemp -d)
    trap 'rm -rf "$TMPDIR_LOCAL"' EXIT
    TARBALL=$TMPDIR_LOCAL/drl_jax_src.tar.gz
  fi
  # Pack the files git would commit now (tracked + untracked-not-ignored,
  # minus files deleted in the working tree): no .git, venvs or caches, but
  # uncommitted edits included. GNU tar and bsdtar (macOS) both read this.
  PACK='set -o pipefail && cd "$1" && git ls-files -z --cached --others --exclude-standard'
  PACK+=' | while IFS= read -r -d "" f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done'
  PACK+=' | tar --null -T - -czf "$2"'
  run bash -c "$PACK" pack "$REPO" "$TARBALL"
  run gcloud compute tpus tpu-vm scp "$TARBALL" "$NAME:drl_jax_src.tar.gz" \
    "${SCOPE[@]}" --worker=all
  FETCH="rm -rf $REMOTE_REPO && mkdir -p $REMOTE_REPO"
  FETCH+=' && tar -xzf "$HOME/drl_jax_src.tar.gz" -C'" $REMOTE_REPO"
  FETCH+=' && rm -f "$HOME/drl_jax_src.tar.gz"'
fi

# --- 2. Python venv + drl_jax + jax[tpu], the same on every worker ---------
# P = the interpreter: --python, else python3 when it is >= 3.11, else
# python3.11 (apt-installed with its -venv package when missing). The apt
# lock timeout covers unattended-upgrades still running on a fresh VM.
APT='sudo apt-get -o DPkg::Lock::Timeout=600'
if [[ -n $PYTHON ]]; then
  REMOTE="$FETCH && P=$(shell_quote "$PYTHON")"
else
  REMOTE="$FETCH"' && P=python3 && { python3 -c "import sys; sys.exit(sys.version_info < (3, 11))" || P=python3.11; }'
fi
REMOTE+=' && { command -v "$P" >/dev/null || { '"$APT"' update -q && '"$APT"' install -y -q "$P" "$P-venv"; }; }'
REMOTE+=" && { test -x $REMOTE_VENV/bin/python || \"\$P\" -m venv $REMOTE_VENV"
REMOTE+=" || { rm -rf $REMOTE_VENV && $APT install -y -q \"\$P-venv\" && \"\$P\" -m venv $REMOTE_VENV; }; }"
REMOTE+=" && $REMOTE_VENV/bin/python -m pip install -q -U pip"
REMOTE+=" && $REMOTE_VENV/bin/python -m pip install -e $REMOTE_REPO 'jax[tpu]'"
REMOTE+=" && $REMOTE_VENV/bin/python -c 'import drl_jax, jax; print(\"drl_jax ready: jax\", jax.__version__)'"
run_on_workers "$NAME" "$ZONE" "$PROJECT" "$NWORKERS" "$REMOTE"
