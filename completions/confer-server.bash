# bash completion for confer-server(1)
_confer_server() {
  local cur prev
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    --attestation) COMPREPLY=($(compgen -W "tsm dev" -- "$cur")); return ;;
    --dev-product) COMPREPLY=($(compgen -W "milan genoa turin" -- "$cur")); return ;;
    --upstream) COMPREPLY=($(compgen -W "demo http:// https://" -- "$cur")); return ;;
    --manifest|--manifest-bundle|--dev-root|--port-file|--token-key-file|--ita-api-key-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --tsm-root|--tdx-collateral) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --ita-url) COMPREPLY=($(compgen -W "https://" -- "$cur")); return ;;
    --store) COMPREPLY=($(compgen -W "sqlite: postgresql:// none" -- "$cur")); return ;;
    --listen|--model|--threads|--max-connections|--max-connections-per-ip|--handshake-timeout|--client-verify-timeout|--idle-timeout|\
    --upstream-concurrency|--upstream-timeout|--upstream-first-token-timeout|--upstream-total-timeout|\
    --max-send-buffer|--max-total-buffer|--grace|--rp-id|--origin) return ;;
  esac
  COMPREPLY=($(compgen -W "--help --version --listen --upstream --model --attestation --manifest --manifest-bundle
    --dev-root --dev-product --tsm-root --tdx-collateral --ita-url --ita-api-key-file --threads
    --max-connections --max-connections-per-ip --handshake-timeout --client-verify-timeout --idle-timeout --upstream-concurrency
    --upstream-timeout --upstream-first-token-timeout --upstream-total-timeout --max-send-buffer
    --max-total-buffer --grace --port-file --store --token-key-file --rp-id --origin" -- "$cur"))
}
complete -F _confer_server confer-server
