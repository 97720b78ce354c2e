# bash completion for pyprobe (installed as
# share/bash-completion/completions/pyprobe): commands, each command's
# options, formats after -f, process ids after -p, files elsewhere.

_pyprobe()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local cmd="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--) # record -- CMD: the command's own words
			if [[ $cmd == record ]]; then
				COMPREPLY=($(compgen -c -f -- "$cur"))
				return
			fi ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W 'record render report dump help --help --version' -- "$cur"))
		return
	fi

	case $prev in
	-p|--pid)
		COMPREPLY=($(compgen -W "$(ps -eo pid= 2>/dev/null)" -- "$cur"))
		return ;;
	-f|--format)
		if [[ $cmd == record ]]; then
			COMPREPLY=($(compgen -W 'flamegraph collapsed speedscope pprof pyprobe' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'flamegraph collapsed speedscope pprof' -- "$cur"))
		fi
		return ;;
	-r|--rate)
		COMPREPLY=($(compgen -W '100 1000 max' -- "$cur"))
		return ;;
	-d|--duration|--title|--stall-threshold|--waits)
		return ;;
	-o|--output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac

	local opts
	case $cmd in
	record) opts='--pid --output --format --rate --duration --subprocesses
		--threads --idle --gil --gil-markers --nolineno --blocking
		--nonblocking --title --no-progress --help --' ;;
	render) opts='--output --format --threads --idle --gil --gil-markers
		--nolineno --title --help' ;;
	report) opts='--output --json --stall-threshold --waits --help' ;;
	dump) opts='--pid --json --locals --nonblocking --help' ;;
	help) COMPREPLY=($(compgen -W 'record render report dump' -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == render || $cmd == report ]]; then
		COMPREPLY=($(compgen -f -X '!*.pyprobe' -- "$cur") $(compgen -d -- "$cur"))
	fi
}
complete -F _pyprobe pyprobe
