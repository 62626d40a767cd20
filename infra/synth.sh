#!/usr/bin/env bash
# Synthesizes prawn's CloudFormation templates into infra/cdk.out without the CDK CLI or an AWS
# account. Needs the Lambda and frontend builds (`make lambda frontend`). Extra arguments are
# passed on as context, e.g.: infra/synth.sh -c alertEmail=ops@example.org -c domainName=x.example.org
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT="${JSII_RUNTIME_PACKAGE_CACHE_ROOT:-${TMPDIR:-/tmp}/prawn-jsii-cache}"
# An offline synth needs a region and an alert address; a real deploy sets its own (docs/aws.md).
export CDK_DEFAULT_REGION="${CDK_DEFAULT_REGION:-us-east-1}"
export PRAWN_ALERT_EMAIL="${PRAWN_ALERT_EMAIL:-alerts@example.com}"
export CDK_OUTDIR="$PWD/cdk.out"
rm -rf "$CDK_OUTDIR"
ctx=()
while [ $# -gt 0 ]; do
  case $1 in
    -c|--context) ctx+=("$2"); shift 2 ;;
    *) echo "synth.sh: unknown argument $1 (use -c key=value)" >&2; exit 2 ;;
  esac
done
# Pass cdk.json's context (feature flags, settings) and the -c values as the CDK CLI does.
CDK_CONTEXT_JSON=$(jq -c '.context + ($ARGS.positional | map(split("=") | {(.[0]): (.[1:] | join("="))}) | add // {})' cdk.json --args "${ctx[@]}")
export CDK_CONTEXT_JSON
go run .
echo "synthesized into $CDK_OUTDIR:"
ls "$CDK_OUTDIR"/*.template.json
