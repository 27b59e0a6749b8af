# fish completion for confer

set -l confer_commands verify-attestation dev-evidence paths help

complete -c confer -f

# Top level
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -l version -d 'Print version and library versions'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -s h -l help -d 'Show help'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a verify-attestation -d 'Verify a saved AMD SEV-SNP attestation offline'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a dev-evidence -d 'Write development SEV-SNP evidence (not AMD-signed)'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a paths -d 'Print the config, data and cache directories'
complete -c confer -n "not __fish_seen_subcommand_from $confer_commands" -a help -d 'Show help for confer or a command'

# help COMMAND
complete -c confer -n "__fish_seen_subcommand_from help; and test (count (commandline -opc)) -eq 2" -a "$confer_commands"

# verify-attestation
set -l va "__fish_seen_subcommand_from verify-attestation"
complete -c confer -n $va -s h -l help -d 'Show help'
complete -c confer -n $va -l evidence -rF -d 'Evidence file (raw, base64, HCL or JSON; - for stdin)'
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
