# bash completion for confer                                 -*- shell-script -*-

_confer()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="chat verify-attestation dev-evidence paths help"

    # Find the subcommand: the first word after "confer" that is not an option.
    local i cmd=
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            cmd=${words[i]}
            break
        fi
    done

    case $cmd in
        '')
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--version -h --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            fi
            ;;
        help)
            ((cword == i + 1)) &&
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            ;;
        chat)
            case $prev in
                --trust-root | --policy | --sigstore-root)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
                    return
                    ;;
                --server | -m | --model | -s | --system | --temperature | \
                    --max-tokens | --expect-measurement | --timeout | \
                    --connect-timeout | --release-identity | --release-issuer)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--server -m --model -s --system
                --temperature --max-tokens --trust-root --expect-measurement
                --policy --sigstore-root --release-identity --release-issuer
                --json --no-stream -q --quiet --no-stdin --offline
                --require-fresh --timeout --connect-timeout --color
                --help" -- "$cur"))
            ;;
        verify-attestation)
            case $prev in
                --evidence | --save | --vcek | --chain | --policy | --trust-root | \
                    --sigstore-root)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --at | --expect-measurement | --expect-report-data | --vmpl | --min-tcb | \
                    --release-identity | --release-issuer)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--evidence --save --sigstore-root
                --release-identity --release-issuer --vcek --chain --at --policy
                --expect-measurement --expect-report-data --vmpl --min-tcb
                --trust-root --offline --json --help" -- "$cur"))
            ;;
        dev-evidence)
            case $prev in
                --out)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -d -- "$cur"))
                    return
                    ;;
                --product)
                    COMPREPLY=($(compgen -W "milan genoa turin" -- "$cur"))
                    return
                    ;;
                --measurement | --report-data | --vmpl)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--out --product --measurement --report-data
                --vmpl --force --help" -- "$cur"))
            ;;
        paths)
            COMPREPLY=($(compgen -W "--help" -- "$cur"))
            ;;
    esac
} &&
    complete -F _confer confer

# ex: filetype=sh
