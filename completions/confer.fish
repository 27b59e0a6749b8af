# fish completion for confer

set -l confer_commands chat login logout status keys history models export import sync verify-attestation dev-evidence paths help

complete -c confer -f

# The options that say where a way into the history comes from (see confer-login(1)),
# for the commands whose condition is $argv[1].
function __confer_key_options
    complete -c confer -n $argv[1] -l device -rF -d 'Security key device path'
    complete -c confer -n $argv[1] -l rp-id -x -d 'Relying party id of the credential (default confer.to)'
    complete -c confer -n $argv[1] -l authenticator -x -a '(__confer_authenticator)' -d 'file:PATH, a passphrase-sealed file (weaker than a key)'
    complete -c confer -n $argv[1] -l passphrase-file -rF -d 'Read the file authenticator\'s passphrase from FILE'
    complete -c confer -n $argv[1] -l touch-timeout -x -d 'Seconds to wait for the security key (1 to 600)'
end

# ... and, where a way in is created, its Argon2id cost.
function __confer_argon2_options
    complete -c confer -n $argv[1] -l argon2-ops -x -d 'Argon2id passes for a new file authenticator or recovery code'
    complete -c confer -n $argv[1] -l argon2-memory -x -d 'Argon2id memory in MiB, for the same'
end

function __confer_authenticator
    set -l token (commandline -ct)
    if string match -q 'file:*' -- $token
        __fish_complete_path (string replace -r '^file:' '' -- $token) | string replace -r '^' 'file:'
    else
        echo file:
    end
end

# Top level
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -l version -d 'Print version and library versions'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -s h -l help -d 'Show help'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a chat -d 'Chat through a channel bound to an attested server'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a login -d 'Open the history with a security key (--register creates it)'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a logout -d 'Lock the history: drop the unlocked session'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a status -d 'Whether the history is unlocked, until when, with which key'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a keys -d 'The ways into the history: list, add, remove, rotate'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a history -d 'Saved conversations: list, show, rm, search, rename'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a verify-attestation -d 'Verify a server\'s or a saved attestation (SEV-SNP, TDX, NVIDIA GPU)'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a dev-evidence -d 'Write development SEV-SNP evidence (not AMD-signed)'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a paths -d 'Print the config, data and cache directories'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a help -d 'Show help for confer or a command'

# help COMMAND
complete -c confer -n "__fish_seen_subcommand_from help; and test (count (commandline -opc)) -eq 2" -a "$confer_commands"

# chat
set -l ch "__fish_seen_subcommand_from chat"
complete -c confer -n $ch -s h -l help -d 'Show help'
complete -c confer -n $ch -l server -x -d 'confer-server URL (ws://, wss://, http://, https://)'
complete -c confer -n $ch -s m -l model -x -d 'Model name'
complete -c confer -n $ch -s s -l system -x -d 'System prompt'
complete -c confer -n $ch -l temperature -x -d 'Sampling temperature (0 to 2)'
complete -c confer -n $ch -l max-tokens -x -d 'Most tokens to generate'
complete -c confer -n $ch -l trust-root -rF -d 'Also trust this root certificate (PEM; NOT AMD)'
complete -c confer -n $ch -l expect-measurement -x -d 'Pin the launch measurement (96 hex digits)'
complete -c confer -n $ch -l expect-mrtd -x -d 'TDX: pin MRTD (96 hex digits)'
complete -c confer -n $ch -l expect-rtmr -x -d 'TDX: pin an RTMR, N=HEX with N 0-3 (repeatable)'
complete -c confer -n $ch -l ita-jwks -rF -d 'TDX: Intel Trust Authority\'s JWKS to check its tokens with'
complete -c confer -n $ch -l policy -rF -d 'JSON attestation policy file'
complete -c confer -n $ch -l sigstore-root -rF -d 'Sigstore trusted_root.json for release manifests'
complete -c confer -n $ch -l release-identity -x -d 'Release signer\'s certificate SAN (e-mail or URI)'
complete -c confer -n $ch -l release-issuer -x -d 'Release signer\'s OIDC issuer'
complete -c confer -n $ch -l json -d 'One JSON event per line on stdout'
complete -c confer -n $ch -l no-stream -d 'Print the answer once, at the end'
complete -c confer -n $ch -l raw -d 'Print the answer as sent, without rendering Markdown'
complete -c confer -n $ch -s q -l quiet -d 'No verification summary on stderr'
complete -c confer -n $ch -l no-stdin -d 'Never read standard input'
complete -c confer -n $ch -l offline -d 'Never fetch collateral'
complete -c confer -n $ch -l verbose -d "OpenSSL's own text after each failure"
complete -c confer -n $ch -l require-fresh -d 'Refuse servers without fresh attestation'
complete -c confer -n $ch -l timeout -x -d 'Seconds the server may stay silent'
complete -c confer -n $ch -l connect-timeout -x -d 'Seconds the server gets to accept and complete its part of the handshake'
complete -c confer -n $ch -l color -x -a 'auto always never' -d 'When to use colour'
complete -c confer -n $ch -s c -l continue -d 'Continue the last conversation'
complete -c confer -n $ch -l conversation -x -d 'Continue (or start) the conversation with this id'
complete -c confer -n $ch -l incognito -d 'Save nothing from this chat'
complete -c confer -n $ch -l no-sync -d 'Keep the saved turn on this machine until the next confer sync'
__confer_key_options $ch

# login
set -l li "__fish_seen_subcommand_from login"
complete -c confer -n $li -s h -l help -d 'Show help'
complete -c confer -n $li -l register -d 'Create the account: register a credential on the security key'
complete -c confer -n $li -l list-devices -d 'List the security keys plugged in'
complete -c confer -n $li -l recovery -d 'Open the history with the recovery code'
complete -c confer -n $li -l remember -x -a '5m 15m 1h 8h 24h' -d 'Keep the history unlocked for scripts (at most 24h)'
complete -c confer -n $li -l server -x -d 'confer-server to register the account with, or to join from a new machine'
complete -c confer -n $li -l local -d 'With --register: keep the account on this machine only'
complete -c confer -n $li -l offline -d 'Never fetch collateral'
complete -c confer -n $li -l trust-root -rF -d 'Also trust this root certificate (PEM; NOT AMD)'
complete -c confer -n $li -l expect-measurement -x -d 'Pin the launch measurement (96 hex digits)'
complete -c confer -n $li -l expect-mrtd -x -d 'TDX: pin MRTD (96 hex digits)'
complete -c confer -n $li -l expect-rtmr -x -d 'TDX: pin an RTMR, N=HEX with N 0-3 (repeatable)'
complete -c confer -n $li -l ita-jwks -rF -d 'TDX: Intel Trust Authority\'s JWKS to check its tokens with'
complete -c confer -n $li -l policy -rF -d 'JSON attestation policy file'
complete -c confer -n $li -l sigstore-root -rF -d 'Sigstore trusted_root.json for release manifests'
complete -c confer -n $li -l release-identity -x -d 'Release signer\'s certificate SAN (e-mail or URI)'
complete -c confer -n $li -l release-issuer -x -d 'Release signer\'s OIDC issuer'
complete -c confer -n $li -l color -x -a 'auto always never' -d 'When to use colour'
__confer_key_options $li
__confer_argon2_options $li

# logout
set -l lo "__fish_seen_subcommand_from logout"
complete -c confer -n $lo -s h -l help -d 'Show help'
complete -c confer -n $lo -l color -x -a 'auto always never' -d 'When to use colour'

# status
set -l st "__fish_seen_subcommand_from status"
complete -c confer -n $st -s h -l help -d 'Show help'
complete -c confer -n $st -l json -d 'One JSON object on stdout'
complete -c confer -n $st -l color -x -a 'auto always never' -d 'When to use colour'

# keys list|add|remove|rotate
set -l keys_commands list add remove rotate
set -l ks "__fish_seen_subcommand_from keys; and not __fish_seen_subcommand_from $keys_commands"
complete -c confer -n $ks -s h -l help -d 'Show help'
complete -c confer -n $ks -l color -x -a 'auto always never' -d 'When to use colour'
complete -c confer -n $ks -a list -d 'List the ways into the history'
complete -c confer -n $ks -a add -d 'Enrol a security key, a file authenticator or a recovery code'
complete -c confer -n $ks -a remove -d 'Remove a way in (never the last one)'
complete -c confer -n $ks -a rotate -d 'A new root key: every way in and data key rewrapped'
set -l kl "__fish_seen_subcommand_from keys; and __fish_seen_subcommand_from list"
complete -c confer -n $kl -s h -l help -d 'Show help'
complete -c confer -n $kl -l json -d 'A JSON array on stdout'
set -l ka "__fish_seen_subcommand_from keys; and __fish_seen_subcommand_from add"
complete -c confer -n $ka -s h -l help -d 'Show help'
complete -c confer -n $ka -l recovery -d 'Print a new recovery code, once'
__confer_key_options $ka
__confer_argon2_options $ka
set -l kr "__fish_seen_subcommand_from keys; and __fish_seen_subcommand_from remove"
complete -c confer -n $kr -s h -l help -d 'Show help'
# The ids need no key: confer keys list reads them as they are.
complete -c confer -n $kr -x -a '(confer keys list 2>/dev/null | string replace -r "^(\S+)\s+(\S+).*" \'$1\t$2\')'
set -l ko "__fish_seen_subcommand_from keys; and __fish_seen_subcommand_from rotate"
complete -c confer -n $ko -s h -l help -d 'Show help'
__confer_key_options $ko
__confer_argon2_options $ko

# history [list|show ID|rm ID|search TEXT|rename ID TITLE]; the key options come before the subcommand
set -l history_commands list show rm search rename
set -l hs "__fish_seen_subcommand_from history; and not __fish_seen_subcommand_from $history_commands"
complete -c confer -n $hs -s h -l help -d 'Show help'
complete -c confer -n $hs -l json -d 'JSON on stdout'
complete -c confer -n $hs -l color -x -a 'auto always never' -d 'When to use colour'
__confer_key_options $hs
complete -c confer -n $hs -a list -d 'Conversations, newest first (the default)'
complete -c confer -n $hs -a show -d 'One conversation as text'
complete -c confer -n $hs -a rm -d 'Remove a conversation for good'
complete -c confer -n $hs -a search -d 'Find text in titles, prompts and answers'
complete -c confer -n $hs -a rename -d 'Give a conversation a new title'
set -l hl "__fish_seen_subcommand_from history; and __fish_seen_subcommand_from list"
complete -c confer -n $hl -s h -l help -d 'Show help'
complete -c confer -n $hl -l json -d 'A JSON array of {id, title, created, updated, turns}'
set -l hw "__fish_seen_subcommand_from history; and __fish_seen_subcommand_from show"
complete -c confer -n $hw -s h -l help -d 'Show help'
complete -c confer -n $hw -l json -d 'One JSON object with every turn and its receipt'
set -l hr "__fish_seen_subcommand_from history; and __fish_seen_subcommand_from rm"
complete -c confer -n $hr -s h -l help -d 'Show help'
set -l hf "__fish_seen_subcommand_from history; and __fish_seen_subcommand_from search"
complete -c confer -n $hf -s h -l help -d 'Show help'
complete -c confer -n $hf -l json -d 'A JSON array of {conversation, title, turn, snippet}'
set -l hn "__fish_seen_subcommand_from history; and __fish_seen_subcommand_from rename"
complete -c confer -n $hn -s h -l help -d 'Show help'

# verify-attestation
set -l va "__fish_seen_subcommand_from verify-attestation"
complete -c confer -n $va -s h -l help -d 'Show help'
complete -c confer -n $va -l evidence -rF -d 'Evidence file (raw, base64, HCL or JSON; - for stdin)'
complete -c confer -n $va -l receipt -rF -d 'Re-check an export\'s receipts (json or jsonl) offline against their saved evidence'
complete -c confer -n $va -l save -rF -d 'With a URL: keep the server\'s evidence here'
complete -c confer -n $va -l sigstore-root -rF -d 'With a URL: Sigstore trusted_root.json'
complete -c confer -n $va -l release-identity -x -d 'With a URL: release signer\'s certificate SAN'
complete -c confer -n $va -l release-issuer -x -d 'With a URL: release signer\'s OIDC issuer'
complete -c confer -n $va -l vcek -rF -d 'VCEK or VLEK certificate (DER or PEM)'
complete -c confer -n $va -l chain -rF -d 'PEM with ASK (or ASVK) then ARK'
complete -c confer -n $va -l at -x -d 'Verification time (RFC 3339)'
complete -c confer -n $va -l policy -rF -d 'JSON policy file'
complete -c confer -n $va -l expect-measurement -x -d 'Expected launch measurement (96 hex digits)'
complete -c confer -n $va -l expect-mrtd -x -d 'TDX: expected MRTD (96 hex digits)'
complete -c confer -n $va -l expect-rtmr -x -d 'TDX: expected RTMR, N=HEX with N 0-3 (repeatable)'
complete -c confer -n $va -l expect-report-data -x -d 'Expected REPORT_DATA (hex; short means prefix)'
complete -c confer -n $va -l vmpl -x -a '0 1 2 3' -d 'Required VMPL'
complete -c confer -n $va -l min-tcb -x -d 'Minimum TCB, e.g. bl=3,tee=0,snp=8,ucode=115'
complete -c confer -n $va -l collateral -x -a '(__fish_complete_directories)' -d 'TDX: directory of Intel collateral (tcb_info.json, qe_identity.json, CRLs, chains)'
complete -c confer -n $va -l ita-jwks -rF -d 'TDX: Intel Trust Authority\'s JWKS to check a token with'
complete -c confer -n $va -l gpu-evidence -rF -d 'NVIDIA GPU attestation report (SPDM request and response)'
complete -c confer -n $va -l gpu-chain -rF -d 'The GPU\'s PEM certificate chain, leaf first'
complete -c confer -n $va -l gpu-nonce -x -d 'The nonce the GPU report must answer (64 hex digits)'
complete -c confer -n $va -l gpu-measurements -rF -d 'JSON file of expected GPU measurement blocks'
complete -c confer -n $va -l trust-root -rF -d 'Also trust this root certificate (PEM)'
complete -c confer -n $va -l offline -d 'Never use the network'
complete -c confer -n $va -l verbose -d "OpenSSL's own text after each failure"
complete -c confer -n $va -l json -d 'Print the report as one JSON object'

# dev-evidence
set -l de "__fish_seen_subcommand_from dev-evidence"
complete -c confer -n $de -s h -l help -d 'Show help'
complete -c confer -n $de -l out -x -a '(__fish_complete_directories)' -d 'Output directory'
complete -c confer -n $de -l product -x -a 'milan genoa turin' -d 'Processor generation'
complete -c confer -n $de -l measurement -x -d 'Launch measurement (96 hex digits)'
complete -c confer -n $de -l report-data -x -d 'REPORT_DATA (hex)'
complete -c confer -n $de -l vmpl -x -a '0 1 2 3' -d 'VMPL recorded in the report'
complete -c confer -n $de -l force -d 'Overwrite existing files'

# paths
complete -c confer -n "__fish_seen_subcommand_from paths" -s h -l help -d 'Show help'

# models
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a models -d 'The models the attested server offers'
set -l mo "__fish_seen_subcommand_from models"
complete -c confer -n $mo -l server -x -d 'confer-server URL'
complete -c confer -n $mo -l trust-root -r -F -d 'Also trust this development root (NOT AMD)'
complete -c confer -n $mo -l expect-measurement -x -d 'Pin the launch measurement (96 hex digits)'
complete -c confer -n $mo -l expect-mrtd -x -d 'TDX: pin MRTD (96 hex digits)'
complete -c confer -n $mo -l expect-rtmr -x -d 'TDX: pin an RTMR, N=HEX with N 0-3 (repeatable)'
complete -c confer -n $mo -l ita-jwks -r -F -d "TDX: Intel Trust Authority's JWKS to check its tokens with"
complete -c confer -n $mo -l policy -r -F -d 'JSON attestation policy file'
complete -c confer -n $mo -l sigstore-root -r -F -d 'Sigstore trusted_root.json'
complete -c confer -n $mo -l release-identity -x -d "The release signer's certificate SAN"
complete -c confer -n $mo -l release-issuer -x -d "The release signer's OIDC issuer"
complete -c confer -n $mo -l json -d 'A JSON array of names'
complete -c confer -n $mo -l offline -d 'Never fetch collateral'
complete -c confer -n $mo -l timeout -x -d 'Seconds to wait for the list'

# sync
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a sync -d 'The same history on every machine, through the attested server'
set -l sy "__fish_seen_subcommand_from sync"
complete -c confer -n $sy -s h -l help -d 'Show help'
complete -c confer -n $sy -l server -x -d 'confer-server URL (default: the one this history syncs with)'
complete -c confer -n $sy -l trust-root -rF -d 'Also trust this root certificate (PEM; NOT AMD)'
complete -c confer -n $sy -l expect-measurement -x -d 'Pin the launch measurement (96 hex digits)'
complete -c confer -n $sy -l expect-mrtd -x -d 'TDX: pin MRTD (96 hex digits)'
complete -c confer -n $sy -l expect-rtmr -x -d 'TDX: pin an RTMR, N=HEX with N 0-3 (repeatable)'
complete -c confer -n $sy -l ita-jwks -rF -d 'TDX: Intel Trust Authority\'s JWKS to check its tokens with'
complete -c confer -n $sy -l policy -rF -d 'JSON attestation policy file'
complete -c confer -n $sy -l sigstore-root -rF -d 'Sigstore trusted_root.json for release manifests'
complete -c confer -n $sy -l release-identity -x -d 'Release signer\'s certificate SAN (e-mail or URI)'
complete -c confer -n $sy -l release-issuer -x -d 'Release signer\'s OIDC issuer'
complete -c confer -n $sy -l json -d 'One JSON summary on stdout'
complete -c confer -n $sy -l offline -d 'Never fetch collateral'
complete -c confer -n $sy -l color -x -a 'auto always never' -d 'When to use colour'
__confer_key_options $sy

# export
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a export -d 'The history decrypted, as JSON, JSON Lines or Markdown, with receipts'
set -l ex "__fish_seen_subcommand_from export"
complete -c confer -n $ex -s h -l help -d 'Show help'
complete -c confer -n $ex -l format -x -a 'json jsonl markdown' -d 'json (one array), jsonl (one turn per line) or markdown'
complete -c confer -n $ex -l conversation -x -d 'Only this conversation'
complete -c confer -n $ex -l since -x -d 'Only conversations updated since this date (2026-12-01 or RFC 3339)'
complete -c confer -n $ex -s o -l output -rF -d 'Write to FILE (atomically, mode 0600) instead of stdout'
complete -c confer -n $ex -l encrypted -d 'A portable archive encrypted under a passphrase (Argon2id), for confer import'
complete -c confer -n $ex -l archive-passphrase-file -rF -d 'Read the archive\'s passphrase from this file\'s first line'
complete -c confer -n $ex -l argon2-ops -x -d 'Argon2id passes for the archive\'s key (1 to 16; default 3)'
complete -c confer -n $ex -l argon2-memory -x -d 'Argon2id memory in MiB for the archive\'s key (1 to 1024; default 256)'
complete -c confer -n $ex -l color -x -a 'auto always never' -d 'When to use colour'
__confer_key_options $ex

# import FILE
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a import -d 'Read an archive of confer export --encrypted into this history'
set -l im "__fish_seen_subcommand_from import"
complete -c confer -n $im -s h -l help -d 'Show help'
complete -c confer -n $im -F -d 'Archive (confer export --encrypted); - for stdin'
complete -c confer -n $im -l archive-passphrase-file -rF -d 'Read the archive\'s passphrase from this file\'s first line'
complete -c confer -n $im -l json -d 'A JSON summary on stdout: {conversations, turns, skipped}'
complete -c confer -n $im -l color -x -a 'auto always never' -d 'When to use colour'
__confer_key_options $im
