# bash completion for confer                                 -*- shell-script -*-

# Options that take a value, so that the value is not taken for a subcommand.
_confer_key_value_opts="--device --rp-id --authenticator --passphrase-file
    --touch-timeout --argon2-ops --argon2-memory --color"

# The first word after words[$1] that is neither an option nor an option's value.
_confer_subcommand()
{
    local j
    for ((j = $1 + 1; j < cword; j++)); do
        case ${words[j]} in
            -*)
                [[ " "$_confer_key_value_opts" " == *[[:space:]]${words[j]}[[:space:]]* ]] && ((j++))
                ;;
            *)
                printf '%s\n' "${words[j]}"
                return
                ;;
        esac
    done
}

# Completes the value of a security key option; returns 1 when prev is none of them.
_confer_key_value()
{
    case $prev in
        --device)
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- "${cur:-/dev/hidraw}"))
            ;;
        --authenticator)
            # file:PATH, with ":" kept in the word (_init_completion -n :)
            if [[ $cur == file:* ]]; then
                local IFS=$'\n'
                COMPREPLY=($(compgen -f -- "${cur#file:}"))
                COMPREPLY=("${COMPREPLY[@]/#/file:}")
                declare -F __ltrim_colon_completions >/dev/null 2>&1 &&
                    __ltrim_colon_completions "$cur"
            else
                COMPREPLY=($(compgen -W "file:" -- "$cur"))
                compopt -o nospace 2>/dev/null
            fi
            ;;
        :)
            # file:PATH split at ":" (no bash-completion): complete the PATH.
            [[ ${words[cword-2]} == file && ${words[cword-3]} == --authenticator ]] || return 1
            compopt -o filenames 2>/dev/null
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- "$cur"))
            ;;
        file)
            [[ $cur == : && ${words[cword-2]} == --authenticator ]] || return 1
            compopt -o filenames 2>/dev/null
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- ""))
            ;;
        --passphrase-file)
            compopt -o filenames 2>/dev/null
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- "$cur"))
            ;;
        --color)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            ;;
        --rp-id | --touch-timeout | --argon2-ops | --argon2-memory)
            ;;
        *)
            return 1
            ;;
    esac
    return 0
}

_confer()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -n : || return
    else
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="chat login logout status keys history models export import
        sync verify-attestation dev-evidence paths help"

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
            _confer_key_value && return
            case $prev in
                --trust-root | --policy | --sigstore-root | --ita-jwks)
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
                    --max-tokens | --expect-measurement | --expect-mrtd | \
                    --expect-rtmr | --timeout | \
                    --connect-timeout | --release-identity | --release-issuer | \
                    --conversation)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--server -m --model -s --system
                --temperature --max-tokens --trust-root --expect-measurement
                --expect-mrtd --expect-rtmr --ita-jwks
                --policy --sigstore-root --release-identity --release-issuer
                --json --no-stream --raw -q --quiet --no-stdin --offline --verbose
                --require-fresh --timeout --connect-timeout --color
                -c --continue --conversation --incognito --no-sync --device --rp-id
                --authenticator --passphrase-file --touch-timeout
                --help" -- "$cur"))
            ;;
        login)
            _confer_key_value && return
            case $prev in
                --remember)
                    COMPREPLY=($(compgen -W "5m 15m 1h 8h 24h" -- "$cur"))
                    return
                    ;;
                --trust-root | --policy | --sigstore-root | --ita-jwks)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --server | --expect-measurement | --expect-mrtd | --expect-rtmr | \
                    --release-identity | --release-issuer)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--register --list-devices --recovery
                --remember --server --local --offline --trust-root
                --expect-measurement --expect-mrtd --expect-rtmr --ita-jwks
                --policy --sigstore-root --release-identity
                --release-issuer --device --rp-id --authenticator --passphrase-file
                --touch-timeout --argon2-ops --argon2-memory --color
                --help" -- "$cur"))
            ;;
        logout)
            _confer_key_value && return
            COMPREPLY=($(compgen -W "--color --help" -- "$cur"))
            ;;
        status)
            _confer_key_value && return
            COMPREPLY=($(compgen -W "--json --color --help" -- "$cur"))
            ;;
        keys)
            local sub=$(_confer_subcommand "$i")
            case $sub in
                '')
                    _confer_key_value && return
                    if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--color --help" -- "$cur"))
                    else
                        COMPREPLY=($(compgen -W "list add remove rotate" -- "$cur"))
                    fi
                    ;;
                list)
                    COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
                    ;;
                add | rotate)
                    _confer_key_value && return
                    local extra=
                    [[ $sub == add ]] && extra=--recovery
                    COMPREPLY=($(compgen -W "$extra --device --rp-id
                        --authenticator --passphrase-file --touch-timeout
                        --argon2-ops --argon2-memory --help" -- "$cur"))
                    ;;
                remove)
                    if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--help" -- "$cur"))
                    else
                        # The ids need no key: confer keys list reads them as they are.
                        COMPREPLY=($(compgen -W "$("${words[0]}" keys list 2>/dev/null |
                            awk '{print $1}')" -- "$cur"))
                    fi
                    ;;
            esac
            ;;
        history)
            local sub=$(_confer_subcommand "$i")
            case $sub in
                '')
                    _confer_key_value && return
                    if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--json --device --rp-id
                            --authenticator --passphrase-file --touch-timeout
                            --color --help" -- "$cur"))
                    else
                        COMPREPLY=($(compgen -W "list show rm search rename" -- "$cur"))
                    fi
                    ;;
                list | show | search)
                    # No ids offered: listing them would need the key.
                    COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
                    ;;
                rm | rename)
                    COMPREPLY=($(compgen -W "--help" -- "$cur"))
                    ;;
            esac
            ;;
        verify-attestation)
            case $prev in
                --evidence | --receipt | --save | --vcek | --chain | --policy | \
                    --trust-root | --sigstore-root | --ita-jwks | --gpu-evidence | \
                    --gpu-chain | --gpu-measurements)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --collateral)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -d -- "$cur"))
                    return
                    ;;
                --at | --expect-measurement | --expect-report-data | --vmpl | --min-tcb | \
                    --expect-mrtd | --expect-rtmr | --gpu-nonce | \
                    --release-identity | --release-issuer)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--evidence --receipt --save --sigstore-root
                --release-identity --release-issuer --vcek --chain --at --policy
                --expect-measurement --expect-report-data --vmpl --min-tcb
                --collateral --ita-jwks --gpu-evidence --gpu-chain --gpu-nonce
                --gpu-measurements --expect-mrtd --expect-rtmr
                --trust-root --offline --verbose --json --help" -- "$cur"))
            ;;
        models)
            case $prev in
                --trust-root | --policy | --sigstore-root | --ita-jwks)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --server | --expect-measurement | --expect-mrtd | --expect-rtmr | \
                    --release-identity | --release-issuer | --timeout)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--server --trust-root --expect-measurement --policy
                --expect-mrtd --expect-rtmr --ita-jwks
                --sigstore-root --release-identity --release-issuer --json --offline --timeout
                --color --help" -- "$cur"))
            ;;
        export)
            _confer_key_value && return
            case $prev in
                --format)
                    COMPREPLY=($(compgen -W "json jsonl markdown" -- "$cur"))
                    return
                    ;;
                -o | --output | --archive-passphrase-file)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --conversation | --since)
                    # No ids offered: listing them would need the key.
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--format --conversation --since -o --output
                --encrypted --archive-passphrase-file --argon2-ops --argon2-memory
                --device --rp-id --authenticator --passphrase-file --touch-timeout
                --color --help" -- "$cur"))
            ;;
        import)
            _confer_key_value && return
            case $prev in
                --archive-passphrase-file)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
            esac
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--archive-passphrase-file --json
                    --device --rp-id --authenticator --passphrase-file --touch-timeout
                    --color --help" -- "$cur"))
            else
                # The archive (confer export --encrypted), or - for standard input.
                compopt -o filenames 2>/dev/null
                local IFS=$'\n'
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            ;;
        sync)
            _confer_key_value && return
            case $prev in
                --trust-root | --policy | --sigstore-root | --ita-jwks)
                    compopt -o filenames 2>/dev/null
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return
                    ;;
                --server | --expect-measurement | --expect-mrtd | --expect-rtmr | \
                    --release-identity | --release-issuer)
                    return
                    ;;
            esac
            COMPREPLY=($(compgen -W "--server --trust-root --expect-measurement --policy
                --expect-mrtd --expect-rtmr --ita-jwks
                --sigstore-root --release-identity --release-issuer --device --rp-id
                --authenticator --passphrase-file --touch-timeout --json --offline
                --color --help" -- "$cur"))
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
