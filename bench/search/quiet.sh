#!/usr/bin/env bash
# Waits (at most 10 minutes; QUIET_TRIES x 2 s if set) until the CPUs are at least 90% idle
# over 2 seconds, so that other work on a shared machine does not distort the next measurement;
# warns if it gives up.
for _ in $(seq 1 "${QUIET_TRIES:-300}"); do
  read -r _ a < /proc/stat; set -- $a; idle1=$(($4 + $5)); total1=0
  for b in "$@"; do total1=$((total1 + b)); done
  sleep 2
  read -r _ a < /proc/stat; set -- $a; idle2=$(($4 + $5)); total2=0
  for b in "$@"; do total2=$((total2 + b)); done
  if (( (idle2 - idle1) * 100 >= 90 * (total2 - total1) )); then exit 0; fi
done
echo "warning: the machine did not become idle; measuring anyway" >&2
