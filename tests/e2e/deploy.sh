#!/usr/bin/env bash
# deploy/ checked: every JSON file is valid (jq) and says what
# docs/deployment.md promises (launcher entry point, token from Secrets
# Manager, pidMode task and SYS_PTRACE for the sidecar, /healthz health
# checks, idle timeout above the pings, client-IP preservation on the NLB);
# the Dockerfiles build the agent FROM scratch with a CA bundle where the
# agent looks, and install every library scripts/deps.sh builds with; and
# the relay image's entrypoint really runs the relay from PEM secrets in
# its environment: /healthz (the target groups' path) answers, an agent
# and the CLI work through it, and no key is left in its environment.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
D=$SRC/deploy

# --- The JSON files -----------------------------------------------------------
n=0
for f in "$D"/*.json; do
	n=$((n + 1))
	check "$(basename "$f") is valid JSON" jq -e . "$f" >/dev/null
done
check "deploy/ holds the JSON snippets" test "$n" -ge 12

# jqcheck FILE DESCRIPTION FILTER: the filter is true of the file.
# (jq's output is dropped inside: a redirect of check itself would hide its ok/not ok lines)
jqcheck() { check "$(basename "$1"): $2" sh -c 'jq -e "$1" "$2" >/dev/null' sh "$3" "$1"; }

secret_token='any(.secrets[]?; .name == "PORTHOLE_TOKEN" and (.valueFrom | startswith("arn:aws:secretsmanager:")))'
no_plain_token='all(.environment[]?; .name != "PORTHOLE_TOKEN")'
fargate='(.requiresCompatibilities | index("FARGATE")) and .networkMode == "awsvpc"'

L=$D/task-launcher.json
jqcheck "$L" "Fargate, awsvpc" "$fargate"
jqcheck "$L" "the app's entry point is the agent, then --" \
	'.containerDefinitions[] | select(.essential) | .entryPoint[0:2] == ["/porthole-agent", "--"]'
jqcheck "$L" "the app's own command follows" \
	'.containerDefinitions[] | select(.essential) | (.command | length) > 0'
jqcheck "$L" "agent token from Secrets Manager" ".containerDefinitions[0] | $secret_token"
jqcheck "$L" "never as a plain variable" "all(.containerDefinitions[]; $no_plain_token)"
jqcheck "$L" "the flight recorder armed from the task definition" \
	'.containerDefinitions[0].environment | any(.name == "PORTHOLE_WATCH" and (.value | test("--rss-above")))'
jqcheck "$L" "captures sealed to the operators' key" \
	'.containerDefinitions[0].environment | any(.name == "PORTHOLE_ARTIFACT_RECIPIENT")'
jqcheck "$L" "one container, no pidMode" '(.containerDefinitions | length) == 1 and (has("pidMode") | not)'

S=$D/task-sidecar.json
jqcheck "$S" "Fargate, awsvpc" "$fargate"
jqcheck "$S" "pidMode task" '.pidMode == "task"'
jqcheck "$S" "the agent container adds SYS_PTRACE" \
	'.containerDefinitions[] | select(.name == "porthole") |
	 .linuxParameters.capabilities.add | index("SYS_PTRACE")'
jqcheck "$S" "the agent is not essential (its exit never stops the task)" \
	'.containerDefinitions[] | select(.name == "porthole") | .essential == false'
jqcheck "$S" "the agent runs as root (chroot into the app's root)" \
	'.containerDefinitions[] | select(.name == "porthole") | .user == "0"'
jqcheck "$S" "agent token from Secrets Manager" \
	".containerDefinitions[] | select(.name == \"porthole\") | $secret_token"
jqcheck "$S" "the app container has no PORTHOLE_*" \
	'.containerDefinitions[] | select(.name != "porthole") |
	 all((.environment // [])[], (.secrets // [])[]; .name | startswith("PORTHOLE_") | not)'
jqcheck "$S" "the app's image is left alone (no agent entry point)" \
	'.containerDefinitions[] | select(.name != "porthole") | has("entryPoint") | not'

R=$D/relay-task.json
jqcheck "$R" "the relay listens on 7443" '.containerDefinitions[0].portMappings[0].containerPort == 7443'
jqcheck "$R" "TLS key from Secrets Manager" \
	'any(.containerDefinitions[0].secrets[]; .name == "PORTHOLE_TLS_KEY_PEM")'
jqcheck "$R" "stopTimeout leaves the 25 s drain room" '.containerDefinitions[0].stopTimeout >= 30'
jqcheck "$R" "PORTHOLE_TRUSTED_PROXIES: subnets (longer than /16), not the VPC" \
	'.containerDefinitions[0].environment[] | select(.name == "PORTHOLE_TRUSTED_PROXIES") |
	 .value | split(",") | length > 0 and all(.[]; (split("/")[1] | tonumber) > 16)'
jqcheck "$R" "the relay has no task role (it calls no AWS API)" 'has("taskRoleArn") | not'
for f in "$D"/iam-*-execution-policy.json; do
	jqcheck "$f" "reads secrets, nothing else" \
		'[.Statement[] | .Effect == "Allow" and .Action == "secretsmanager:GetSecretValue" and
		  all([.Resource] | flatten | .[]; startswith("arn:aws:secretsmanager:"))] | all'
done
P=$D/iam-relay-artifacts-s3-policy.json
jqcheck "$P" "S3: objects under the artifact prefix only" \
	'[.Statement[] | select(.Action | tostring | contains("s3:")) | select(.Action != "s3:ListBucket") |
	  .Resource | endswith("/porthole/artifacts/*")] | all'
jqcheck "$P" "S3: listing under the artifact prefix only" \
	'.Statement[] | select(.Action == "s3:ListBucket") | .Condition.StringLike["s3:prefix"] == ["porthole/artifacts/*"]'
jqcheck "$P" "S3: no wildcard action" '[.Statement[].Action | if type == "array" then .[] else . end |
	  endswith("*") | not] | all'
jqcheck "$P" "S3: what the store does (put, get, delete, list, abort)" \
	'[.Statement[].Action | if type == "array" then .[] else . end] as $a |
	 ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "s3:AbortMultipartUpload"] |
	 all(. as $x | $a | index($x))'
jqcheck "$D/s3-artifacts-lifecycle.json" "retention and abandoned multipart uploads" \
	'.Rules[0].Expiration.Days > 0 and .Rules[0].AbortIncompleteMultipartUpload.DaysAfterInitiation > 0'
jqcheck "$D/s3-artifacts-encryption.json" "SSE-KMS by default" \
	'.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "aws:kms"'
# The fleet: two or more relays across zones, ElastiCache with TLS, the rules.
jqcheck "$R" "the relays share Redis over TLS (rediss://)" \
	'any(.containerDefinitions[0].environment[]; .name == "PORTHOLE_REDIS" and (.value | startswith("rediss://")))'
jqcheck "$R" "Redis's AUTH token from Secrets Manager" \
	'any(.containerDefinitions[0].secrets[]; .name == "PORTHOLE_REDIS_PASSWORD")'
jqcheck "$R" "the relay token from Secrets Manager (PORTHOLE_RELAY_TOKEN)" \
	'any(.containerDefinitions[0].secrets[]; .name == "PORTHOLE_RELAY_TOKEN" and (.valueFrom | startswith("arn:aws:secretsmanager:")))'
jqcheck "$D/iam-relay-execution-policy.json" "reads the relay token secret" \
	'[.Statement[].Resource] | flatten | any(contains("porthole/relay-token"))'
jqcheck "$R" "no PORTHOLE_ADVERTISE: on ECS the relay takes the task's IPv4" \
	'all(.containerDefinitions[0].environment[]; .name != "PORTHOLE_ADVERTISE")'
for lb in alb nlb; do
	jqcheck "$D/relay-service-$lb.json" "two or more relay tasks" '.desiredCount >= 2'
	jqcheck "$D/relay-service-$lb.json" "subnets in two zones or more" \
		'.networkConfiguration.awsvpcConfiguration.subnets | length >= 2'
done
E=$D/elasticache-replication-group.json
jqcheck "$E" "cluster mode disabled (one shard), a replica in another zone" \
	'.NumNodeGroups == 1 and .ReplicasPerNodeGroup >= 1 and .MultiAZEnabled and .AutomaticFailoverEnabled'
jqcheck "$E" "in-transit encryption required, AUTH on" \
	'.TransitEncryptionEnabled and .TransitEncryptionMode == "required" and has("AuthToken")'
jqcheck "$E" "Redis or Valkey" '.Engine == "redis" or .Engine == "valkey"'
jqcheck "$D/sg-relay-peer-ingress.json" "relay to relay: the relays' group to itself on 7443" \
	'.GroupId == "sg-RELAY" and .IpPermissions[0].FromPort == 7443 and .IpPermissions[0].ToPort == 7443 and
	 .IpPermissions[0].UserIdGroupPairs[0].GroupId == "sg-RELAY"'
jqcheck "$D/sg-redis-ingress.json" "the relays to Redis on 6379, from their group only" \
	'.GroupId == "sg-REDIS" and .IpPermissions[0].FromPort == 6379 and
	 [.IpPermissions[0].UserIdGroupPairs[].GroupId] == ["sg-RELAY"] and (.IpPermissions[0] | has("IpRanges") | not)'
jqcheck "$D/iam-relay-execution-policy.json" "reads the Redis AUTH secret" \
	'[.Statement[].Resource] | flatten | any(contains("porthole/redis-auth"))'
jqcheck "$D/iam-ecs-tasks-trust.json" "trusts ECS tasks only" \
	'[.Statement[].Principal.Service] == ["ecs-tasks.amazonaws.com"]'
check ".dockerignore keeps build trees and dev state out" \
	sh -c "grep -qx 'build\*/' '$SRC/.dockerignore' && grep -qx '.porthole-dev/' '$SRC/.dockerignore'"
for lb in alb nlb; do
	jqcheck "$D/relay-service-$lb.json" "forwards to the relay container's port" \
		'.loadBalancers[0] | .containerName == "relay" and .containerPort == 7443'
	jqcheck "$D/relay-service-$lb.json" "its target group is the $lb one" \
		".loadBalancers[0].targetGroupArn | contains(\"porthole-relay-$lb\")"
	jqcheck "$D/$lb-target-group.json" "health check /healthz, 200" \
		'.HealthCheckPath == "/healthz" and .Matcher.HttpCode == "200" and .HealthCheckProtocol == "HTTPS"'
	jqcheck "$D/$lb-target-group.json" "ip targets on 7443 (Fargate)" '.TargetType == "ip" and .Port == 7443'
	jqcheck "$D/$lb-target-group-attributes.json" "deregistration delay covers the drain" \
		'.Attributes[] | select(.Key == "deregistration_delay.timeout_seconds") | (.Value | tonumber) >= 25'
	jqcheck "$D/$lb-listener.json" "listens on 443" '.Port == 443'
done
jqcheck "$D/alb-target-group.json" "HTTPS, HTTP/1.1 (WebSocket upgrades)" '.Protocol == "HTTPS" and .ProtocolVersion == "HTTP1"'
jqcheck "$D/alb-listener.json" "HTTPS with a certificate" '.Protocol == "HTTPS" and (.Certificates | length) > 0'
jqcheck "$D/alb-attributes.json" "idle timeout at least 60 s (pings after 16 s)" \
	'.Attributes[] | select(.Key == "idle_timeout.timeout_seconds") | (.Value | tonumber) >= 60'
jqcheck "$D/nlb-target-group.json" "TCP: TLS passes through" '.Protocol == "TCP"'
jqcheck "$D/nlb-listener.json" "TCP: TLS passes through" '.Protocol == "TCP"'
jqcheck "$D/nlb-target-group-attributes.json" "client-IP preservation on" \
	'.Attributes[] | select(.Key == "preserve_client_ip.enabled") | .Value == "true"'

# Every PORTHOLE_* the snippets set is documented.
for v in $(grep -ho 'PORTHOLE_[A-Z_]*' "$D"/* | sort -u); do
	check "$v is documented" grep -q "$v" "$SRC/docs/deployment.md" "$SRC/docs/operations.md"
done

# --- The Dockerfiles ------------------------------------------------------------
check "Dockerfile: the final stage is FROM scratch" sh -c "grep '^FROM' '$D/Dockerfile' | tail -1 | grep -qx 'FROM scratch'"
bundle=$(sed -n 's|.*cp /etc/ssl/certs/ca-certificates.crt /out\(/[^ ]*\).*|\1|p' "$D/Dockerfile")
check "Dockerfile: the CA bundle goes where the agent looks ($bundle)" \
	grep -q "\"$bundle\"" "$SRC/agent/agent-tls.c"
check "Dockerfile: the agent is linked statically" grep -q -- '-Dstatic_agent=true' "$D/Dockerfile"
deps=$(sed -n '/^PORTHOLE_BUILD_DEPS=/,/"$/p' "$SRC/scripts/deps.sh" | tr ' "' '\n\n' | grep -- '^lib.*-dev$')
for f in Dockerfile Dockerfile.relay; do
	for p in $deps; do
		case $p in libclang-*) continue;; esac
		check "$f installs $p (scripts/deps.sh builds with it)" grep -qw -- "$p" "$D/$f"
	done
done

# --- The relay image's entrypoint, for real ---------------------------------------
start_relay		# a dev relay, only for its certificate, keys and tokens
kill -TERM "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
RUN=$T/run
env PATH="$BUILD/src/relay:$PATH" PORTHOLE_RUN_DIR="$RUN" \
	PORTHOLE_TLS_CERT_PEM="$(cat "$STATE/ca.pem")" PORTHOLE_TLS_KEY_PEM="$(cat "$STATE/tls.key")" \
	PORTHOLE_PUBKEY_PEM="$(cat "$STATE/signing.pub")" PORTHOLE_REDIS_PASSWORD=pw-for-the-test \
	sh "$D/relay-entrypoint.sh" --listen 127.0.0.1:0 >"$T/relay2.out" 2>"$T/relay2.err" &
R2=$!
PIDS+=("$R2")
if ! wait_for 20 grep -q 'listening on' "$T/relay2.err"; then
	cat "$T/relay2.err" >&2
	fail "the relay did not start from the entrypoint"
	finish
fi
PORT2=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relay2.err" | head -1)
eq "the entrypoint execs the relay (same pid)" "$(readlink -f "/proc/$R2/exe")" \
	"$(readlink -f "$BUILD/src/relay/porthole-relay")"
check "no PEM is left in the relay's environment" \
	sh -c "! tr '\\0' '\\n' </proc/$R2/environ | grep -q '_PEM='"
check "the relay reads the key from the run directory" \
	sh -c "tr '\\0' '\\n' </proc/$R2/environ | grep -qx 'PORTHOLE_TLS_KEY=$RUN/tls.key'"
eq "the key file is 0600" "$(stat -c %a "$RUN/tls.key")" 600
eq "the Redis AUTH token went to a file too" "$(cat "$RUN/redis.pw")" pw-for-the-test
check "... and left the environment" sh -c "! tr '\\0' '\\n' </proc/$R2/environ | grep -q 'PORTHOLE_REDIS_PASSWORD='"
eq "the run directory is 0700" "$(stat -c %a "$RUN")" 700
hc=$(jq -r .HealthCheckPath "$D/alb-target-group.json")
code=$(curl -s -o "$T/health" -w '%{http_code}' --cacert "$STATE/ca.pem" "https://127.0.0.1:$PORT2$hc")
eq "the target groups' health check answers $(jq -r .Matcher.HttpCode "$D/alb-target-group.json")" \
	"$code" "$(jq -r .Matcher.HttpCode "$D/alb-target-group.json")"
PORTHOLE_RELAY=wss://127.0.0.1:$PORT2
export PORTHOLE_RELAY
start_agent deploy-agent
eq "an agent and the CLI work through it (tokens checked with the PEM keys)" \
	"$(ph exec deploy-agent -- echo through </dev/null)" through
finish
