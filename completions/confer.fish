# fish completion for confer

set -l confer_commands chat verify-attestation dev-evidence paths help

complete -c confer -f

# Top level
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -l version -d 'Print version and library versions'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -s h -l help -d 'Show help'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a chat -d 'Chat through a channel bound to an attested server'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a verify-attestation -d 'Verify a server\'s or a saved SEV-SNP attestation'
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
complete -c confer -n $ch -l policy -rF -d 'JSON attestation policy file'
complete -c confer -n $ch -l sigstore-root -rF -d 'Sigstore trusted_root.json for release manifests'
complete -c confer -n $ch -l release-identity -x -d 'Release signer\'s certificate SAN (e-mail or URI)'
complete -c confer -n $ch -l release-issuer -x -d 'Release signer\'s OIDC issuer'
complete -c confer -n $ch -l json -d 'One JSON event per line on stdout'
complete -c confer -n $ch -l no-stream -d 'Print the answer once, at the end'
complete -c confer -n $ch -s q -l quiet -d 'No verification summary on stderr'
complete -c confer -n $ch -l no-stdin -d 'Never read standard input'
complete -c confer -n $ch -l offline -d 'Never fetch collateral'
complete -c confer -n $ch -l require-fresh -d 'Refuse servers without fresh attestation'
complete -c confer -n $ch -l timeout -x -d 'Seconds the server may stay silent'
complete -c confer -n $ch -l connect-timeout -x -d 'Seconds to connect (handshake: twice that plus 30)'
complete -c confer -n $ch -l color -x -a 'auto always never' -d 'When to use colour'

# verify-attestation
set -l va "__fish_seen_subcommand_from verify-attestation"
complete -c confer -n $va -s h -l help -d 'Show help'
complete -c confer -n $va -l evidence -rF -d 'Evidence file (raw, base64, HCL or JSON; - for stdin)'
complete -c confer -n $va -l save -rF -d 'With a URL: keep the server\'s evidence here'
complete -c confer -n $va -l sigstore-root -rF -d 'With a URL: Sigstore trusted_root.json'
complete -c confer -n $va -l release-identity -x -d 'With a URL: release signer\'s certificate SAN'
complete -c confer -n $va -l release-issuer -x -d 'With a URL: release signer\'s OIDC issuer'
complete -c confer -n $va -l vcek -rF -d 'VCEK or VLEK certificate (DER or PEM)'
complete -c confer -n $va -l chain -rF -d 'PEM with ASK (or ASVK) then ARK'
complete -c confer -n $va -l at -x -d 'Verification time (RFC 3339)'
complete -c confer -n $va -l policy -rF -d 'JSON policy file'
complete -c confer -n $va -l expect-measurement -x -d 'Expected launch measurement (96 hex digits)'
complete -c confer -n $va -l expect-report-data -x -d 'Expected REPORT_DATA (hex; short means prefix)'
complete -c confer -n $va -l vmpl -x -a '0 1 2 3' -d 'Required VMPL'
complete -c confer -n $va -l min-tcb -x -d 'Minimum TCB, e.g. bl=3,tee=0,snp=8,ucode=115'
complete -c confer -n $va -l trust-root -rF -d 'Also trust this root certificate (PEM)'
complete -c confer -n $va -l offline -d 'Never use the network'
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
