/*
 * cmd-completion.c - "porthole completion bash|zsh|fish": print the shell's
 * completion script.
 *
 * The scripts know nothing of porthole's commands: each asks the porthole
 * being completed (`porthole __complete -- WORD...`, cmd-complete.c) for
 * the candidates of the word under the cursor, so the command table stays
 * the one source, and a newer porthole completes its new options with the
 * script it shipped with.  A ":files" line means: complete file names.
 * `meson install` and the .deb put these scripts where each shell looks
 * (client/meson.build); an operator without them sources the output.
 */
#include <stdio.h>
#include <string.h>

#include "client-conn.h"
#include "cmd.h"

static const char completion_bash[] =
"# bash completion for porthole (made by 'porthole completion bash')\n"
"_porthole() {\n"
"\tlocal cur=${COMP_WORDS[COMP_CWORD]} ph=${COMP_WORDS[0]} c files=0 IFS=$'\\n'\n"
"\tlocal -a out reply=()\n"
"\tcase $ph in '~'*) ph=porthole;; esac\n"
"\tout=($(\"$ph\" __complete -- \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null))\n"
"\tfor c in \"${out[@]}\"; do\n"
"\t\tif [ \"$c\" = :files ]; then files=1; else reply+=(\"$c\"); fi\n"
"\tdone\n"
"\tCOMPREPLY=(\"${reply[@]}\")\n"
"\tif [ $files = 1 ]; then\n"
"\t\tCOMPREPLY+=($(compgen -f -- \"$cur\"))\n"
"\t\tcompopt -o filenames 2>/dev/null\n"
"\tfi\n"
"\treturn 0\n"
"}\n"
"complete -F _porthole porthole\n";

static const char completion_zsh[] =
"#compdef porthole\n"
"# zsh completion for porthole (made by 'porthole completion zsh')\n"
"_porthole() {\n"
"\tlocal -a out cands\n"
"\tlocal c files=0\n"
"\tout=(\"${(@f)$(${words[1]} __complete -- \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
"\tfor c in \"${out[@]}\"; do\n"
"\t\tif [[ $c == :files ]]; then files=1; elif [[ -n $c ]]; then cands+=(\"$c\"); fi\n"
"\tdone\n"
"\t(( ${#cands} )) && compadd -- \"${cands[@]}\"\n"
"\t(( files )) && _files\n"
"\treturn 0\n"
"}\n"
"if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
"\t_porthole \"$@\"\n"
"else\n"
"\tcompdef _porthole porthole\n"
"fi\n";

static const char completion_fish[] =
"# fish completion for porthole (made by 'porthole completion fish')\n"
"function __porthole_complete\n"
"\tset -l cur (commandline -ct)\n"
"\tset -l words (commandline -opc) \"$cur\"\n"
"\tfor c in (command $words[1] __complete -- $words[2..-1] 2>/dev/null)\n"
"\t\tif test \"$c\" = :files\n"
"\t\t\t__fish_complete_path \"$cur\"\n"
"\t\telse\n"
"\t\t\techo $c\n"
"\t\tend\n"
"\tend\n"
"end\n"
"complete -c porthole -f -a '(__porthole_complete)'\n";

static const struct {
	const char	*shell;
	const char	*script;
} completion_scripts[] = {
	{ "bash", completion_bash },
	{ "zsh", completion_zsh },
	{ "fish", completion_fish },
};

static int
cmd_completion_exec(struct client_conf *conf, int argc, char **argv)
{
	size_t	i;

	(void)conf;
	if (argc > 1 && argv[1][0] == '-')
		return cmd_usage_error(&cmd_completion_entry, "unknown option '%s'",
		    argv[1]);
	if (argc != 2)
		return cmd_usage_error(&cmd_completion_entry, "name one shell");
	for (i = 0; i < sizeof completion_scripts / sizeof completion_scripts[0]; i++) {
		if (strcmp(argv[1], completion_scripts[i].shell) == 0) {
			fputs(completion_scripts[i].script, stdout);
			return 0;
		}
	}
	return cmd_usage_error(&cmd_completion_entry, "no completion for '%s'",
	    argv[1]);
}

static const struct cmd_sub completion_subs[] = {
	{ "bash", "", "the script for bash", NULL },
	{ "zsh", "", "the script for zsh", NULL },
	{ "fish", "", "the script for fish", NULL },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_completion_entry = {
	.name = "completion",
	.alias = NULL,
	.usage = "bash|zsh|fish",
	.about = "print a shell's completion script (commands, options, agents, "
	    "pids)",
	.exec = cmd_completion_exec,
	.flags = CMD_NO_CONSOLE,
	.description = "Print the completion script for bash, zsh or fish. It "
	    "completes commands, their options and the values those take, agent "
	    "names where a TARGET goes and pids where a PID goes (both asked of "
	    "the relay, quietly: nothing when it cannot be reached). The "
	    "packages and 'meson install' put the scripts where the shells look; "
	    "otherwise:\n"
	    "\n"
	    "  bash: source <(porthole completion bash)   (in ~/.bashrc)\n"
	    "  zsh:  porthole completion zsh > DIR/_porthole   (DIR in $fpath)\n"
	    "  fish: porthole completion fish > ~/.config/fish/completions/porthole.fish",
	.subs = completion_subs,
};
