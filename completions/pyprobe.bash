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
			if [[ $cmd == record || $cmd == top ]]; then
				COMPREPLY=($(compgen -c -f -- "$cur"))
				return
			fi ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W 'record render report dump top watch diff help --help --version' -- "$cur"))
		return
	fi

	case $prev in
	-p|--pid)
		COMPREPLY=($(compgen -W "$(ps -eo pid= 2>/dev/null)" -- "$cur"))
		return ;;
	-f|--format)
		if [[ $cmd == record ]]; then
			COMPREPLY=($(compgen -W 'flamegraph collapsed speedscope pprof chrometrace gecko pyprobe' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'flamegraph collapsed speedscope pprof chrometrace gecko' -- "$cur"))
		fi
		return ;;
	-r|--rate)
		if [[ $cmd == dump ]]; then # dump's -r is --root
			COMPREPLY=($(compgen -d -- "$cur"))
		else
			COMPREPLY=($(compgen -W '100 1000 max' -- "$cur"))
		fi
		return ;;
	-d|--duration|--title|--stall-threshold|--waits|-w|--window|--interval|--stall|--stuck|--heartbeat-timeout)
		return ;;
	-o|--output|--out|-c|--core|-e|--exe)
		if [[ $cmd == watch ]]; then
			COMPREPLY=($(compgen -d -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return ;;
	--heartbeat)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--root)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	esac

	local opts
	case $cmd in
	record) opts='--pid --output --format --rate --duration --subprocesses
		--threads --idle --gil --gil-markers --nolineno --function
		--full-filenames --native --blocking
		--nonblocking --title --no-progress --help --' ;;
	render) opts='--output --format --threads --idle --gil --gil-markers
		--nolineno --function --full-filenames --title --help' ;;
	report) opts='--output --json --stall-threshold --waits --help' ;;
	dump) opts='--pid --core --exe --root --json --locals --native --nonblocking --tasks --help' ;;
	top) opts='--pid --rate --window --interval --duration --idle --sort --blocking
		--nonblocking --help --' ;;
	watch) opts='--pid --out --stall --stuck --heartbeat --heartbeat-timeout
		--rate --native --locals --once --help' ;;
	help) COMPREPLY=($(compgen -W 'record render report dump top watch diff' -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == render || $cmd == report ]]; then
		COMPREPLY=($(compgen -f -X '!*.pyprobe' -- "$cur") $(compgen -d -- "$cur"))
	fi
}
complete -F _pyprobe pyprobe
