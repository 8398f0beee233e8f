#!/bin/sh
# Download TNTP test networks for benchmarks/bench_aequilibrae.py from the public
# "Transportation Networks for Research" collection:
#     https://github.com/bstabler/TransportationNetworks
# The data are donated "for academic research purposes only" (no open licence), so karvan does
# not ship them; cite the source if you publish results. Nothing is written inside the repo
# unless you pass a folder there (do not commit it).
#
# usage: sh benchmarks/get_networks.sh [DEST] [NETWORK...]
#        DEST defaults to /tmp/tntp; NETWORK defaults to "ChicagoSketch Anaheim SiouxFalls".
# then:  python benchmarks/bench_aequilibrae.py ChicagoSketch --data DEST/ChicagoSketch
#
# Pin COMMIT to reproduce the README numbers (they used d1639b4ef218c17928ba573e806ddf8ba5e7ae6d).
set -eu

DEST=${1:-/tmp/tntp}
[ $# -gt 0 ] && shift
NETWORKS=${*:-"ChicagoSketch Anaheim SiouxFalls"}
COMMIT=${COMMIT:-d1639b4ef218c17928ba573e806ddf8ba5e7ae6d}
BASE="https://raw.githubusercontent.com/bstabler/TransportationNetworks/$COMMIT"

folder() {  # upstream folder of a network
    case "$1" in
        ChicagoSketch) echo "Chicago-Sketch" ;;
        ChicagoRegional) echo "chicago-regional" ;;
        *) echo "$1" ;;
    esac
}

fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL "$1" -o "$2"
    else
        wget -q "$1" -O "$2"
    fi
}

for net in $NETWORKS; do
    mkdir -p "$DEST/$net"
    for kind in net trips flow node; do
        url="$BASE/$(folder "$net")/${net}_${kind}.tntp"
        out="$DEST/$net/${net}_${kind}.tntp"
        if fetch "$url" "$out"; then
            echo "$out"
        else
            rm -f "$out"
            # net and trips are required; flow (best-known solution) and node are optional
            case "$kind" in net|trips) echo "failed: $url" >&2; exit 1 ;; esac
        fi
    done
done
