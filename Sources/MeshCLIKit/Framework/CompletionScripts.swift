/// Shell completion scripts for bash, zsh and fish, generated from the command tree so they never
/// drift from the commands. The scripts are checked into `completions/`; a test keeps them current.
public enum CompletionScripts {
    public enum Shell: String, CaseIterable, Sendable {
        case bash, zsh, fish
    }

    public static func script(for shell: Shell, root: any MeshCommand.Type) -> String {
        let model = Model(root: root)
        switch shell {
        case .bash: return bash(model)
        case .zsh: return zsh(model)
        case .fish: return fish(model)
        }
    }

    /// The facts every script needs, one entry per command path.
    struct Model {
        struct Node {
            var path: String
            var spec: CommandSpec
            var flags: [FlagSpec]
        }

        var rootName: String
        var nodes: [Node] = []

        init(root: any MeshCommand.Type) {
            rootName = root.spec.name
            collect(root.spec, path: root.spec.name)
        }

        private mutating func collect(_ spec: CommandSpec, path: String) {
            nodes.append(Node(path: path, spec: spec, flags: (spec.flags + GlobalFlags.alongside(spec.flags)).filter { !$0.hidden }))
            for child in spec.subcommandSpecs where !child.hidden {
                collect(child, path: path + " " + child.name)
            }
        }

        /// `path|word` → canonical subcommand, aliases included.
        var subcommandCases: [(String, String)] {
            nodes.flatMap { node in
                node.spec.subcommandSpecs.filter { !$0.hidden }.flatMap { child in
                    ([child.name] + child.aliases).map { ("\(node.path)|\($0)", child.name) }
                }
            }
        }

        static func names(_ flag: FlagSpec) -> [String] {
            (flag.short.map { ["-\($0)"] } ?? []) + ["--\(flag.name)"]
        }

        static func completionWord(_ completion: ValueCompletion) -> String? {
            switch completion {
            case .none: return nil
            case .values(let values): return "values " + values.joined(separator: " ")
            case .files: return "files"
            case .directories: return "directories"
            case .dynamic(let source): return "dynamic \(source.rawValue)"
            }
        }
    }

    /// The shell functions both bash and zsh use (their `case` syntax is the same).
    private static func posixDataFunctions(_ model: Model) -> String {
        let prefix = "__\(model.rootName)"
        var text = ""
        text += "\(prefix)_subcommand() {\n    case \"$1|$2\" in\n"
        for (key, name) in model.subcommandCases { text += "        \"\(key)\") echo \(name) ;;\n" }
        text += "    esac\n}\n\n"

        text += "\(prefix)_subcommands() {\n    case \"$1\" in\n"
        for node in model.nodes where !node.spec.subcommands.isEmpty {
            let names = node.spec.visibleSubcommandNames
            text += "        \"\(node.path)\") echo \"\(names.joined(separator: " "))\" ;;\n"
        }
        text += "    esac\n}\n\n"

        text += "\(prefix)_flags() {\n    case \"$1\" in\n"
        for node in model.nodes {
            text += "        \"\(node.path)\") echo \"\(node.flags.map { "--\($0.name)" }.joined(separator: " "))\" ;;\n"
        }
        text += "    esac\n}\n\n"

        text += "\(prefix)_value_flags() {\n    case \"$1\" in\n"
        for node in model.nodes {
            let names = node.flags.filter(\.takesValue).flatMap(Model.names)
            text += "        \"\(node.path)\") echo \"\(names.joined(separator: " "))\" ;;\n"
        }
        text += "    esac\n}\n\n"

        text += "\(prefix)_flag_values() {\n    case \"$1|$2\" in\n"
        for node in model.nodes {
            for flag in node.flags where flag.takesValue {
                guard let word = Model.completionWord(flag.completion) else { continue }
                let keys = Model.names(flag).map { "\"\(node.path)|\($0)\"" }.joined(separator: "|")
                text += "        \(keys)) echo \"\(word)\" ;;\n"
            }
        }
        text += "    esac\n}\n\n"

        text += "\(prefix)_argument_values() {\n    case \"$1\" in\n"
        for node in model.nodes {
            guard let argument = node.spec.arguments.first, let word = Model.completionWord(argument.completion) else { continue }
            text += "        \"\(node.path)\") echo \"\(word)\" ;;\n"
        }
        text += "    esac\n}\n\n"
        text += """
        # Walks the words before the cursor; prints the command path, then `value` when the last word is a
        # flag still waiting for its value.
        \(prefix)_walk() {
            local cmdpath="\(model.rootName)" word next skip=0
            for word in "$@"; do
                if [[ $skip == 1 ]]; then skip=0; continue; fi
                if [[ $word == -* ]]; then
                    if [[ $word != *=* && " $(\(prefix)_value_flags "$cmdpath") " == *" $word "* ]]; then skip=1; fi
                    continue
                fi
                next=$(\(prefix)_subcommand "$cmdpath" "$word")
                if [[ -n $next ]]; then cmdpath="$cmdpath $next"; fi
            done
            echo "$cmdpath"
            if [[ $skip == 1 ]]; then echo value; fi
        }

        """
        return text
    }

    private static func bash(_ model: Model) -> String {
        let name = model.rootName
        return """
        # bash completion for \(name). Generated by `\(name) completion bash`; do not edit.
        # Load it in this shell:   source <(\(name) completion bash)
        # Or install it:           \(name) completion bash > /etc/bash_completion.d/\(name)

        \(posixDataFunctions(model))
        _\(name)() {
            local cur="${COMP_WORDS[COMP_CWORD]}" cmdpath walked spec
            COMPREPLY=()
            walked=$(__\(name)_walk "${COMP_WORDS[@]:1:COMP_CWORD-1}")
            cmdpath="${walked%%$'\\n'*}"
            if [[ $walked == *$'\\n'value ]]; then
                spec=$(__\(name)_flag_values "$cmdpath" "${COMP_WORDS[COMP_CWORD-1]}")
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(__\(name)_flags "$cmdpath")" -- "$cur"))
                return 0
            else
                spec=$(__\(name)_argument_values "$cmdpath")
                local commands
                commands=$(__\(name)_subcommands "$cmdpath")
                if [[ -n $commands ]]; then spec="values $commands ${spec#values}"; fi
            fi
            case "$spec" in
                values*) COMPREPLY=($(compgen -W "${spec#values}" -- "$cur")) ;;
                dynamic*) COMPREPLY=($(compgen -W "$(\(name) __complete ${spec#dynamic } 2>/dev/null)" -- "$cur")) ;;
                files) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
                directories) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
            esac
            return 0
        }

        complete -F _\(name) \(name)

        """
    }

    private static func zsh(_ model: Model) -> String {
        let name = model.rootName
        return """
        #compdef \(name)
        # zsh completion for \(name). Generated by `\(name) completion zsh`; do not edit.
        # Load it in this shell:   source <(\(name) completion zsh)
        # Or install it as _\(name) in a directory on your $fpath.

        \(posixDataFunctions(model))
        _\(name)() {
            local cur="${words[CURRENT]}" cmdpath walked spec commands
            walked=$(__\(name)_walk "${(@)words[2,CURRENT-1]}")
            cmdpath="${walked%%$'\\n'*}"
            if [[ $walked == *$'\\n'value ]]; then
                spec=$(__\(name)_flag_values "$cmdpath" "${words[CURRENT-1]}")
            elif [[ $cur == -* ]]; then
                compadd -- ${=$(__\(name)_flags "$cmdpath")}
                return 0
            else
                spec=$(__\(name)_argument_values "$cmdpath")
                commands=$(__\(name)_subcommands "$cmdpath")
                if [[ -n $commands ]]; then spec="values $commands ${spec#values}"; fi
            fi
            case "$spec" in
                values*) compadd -- ${=${spec#values}} ;;
                dynamic*) compadd -- ${=$(\(name) __complete ${spec#dynamic } 2>/dev/null)} ;;
                files) _files ;;
                directories) _files -/ ;;
            esac
            return 0
        }

        if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
            _\(name) "$@"
        else
            compdef _\(name) \(name)
        fi

        """
    }

    private static func fish(_ model: Model) -> String {
        let name = model.rootName
        func quoted(_ text: String) -> String {
            var escaped = ""
            for character in text {
                if character == "\\" || character == "'" { escaped.append("\\") }
                escaped.append(character)
            }
            return "'" + escaped + "'"
        }
        var text = """
        # fish completion for \(name). Generated by `\(name) completion fish`; do not edit.
        # Install it:   \(name) completion fish > ~/.config/fish/completions/\(name).fish

        function __\(name)_subcommand
            switch "$argv[1]|$argv[2]"

        """
        for (key, command) in model.subcommandCases { text += "        case \(quoted(key))\n            echo \(command)\n" }
        text += "    end\nend\n\nfunction __\(name)_value_flags\n    switch \"$argv[1]\"\n"
        for node in model.nodes {
            let names = node.flags.filter(\.takesValue).flatMap(Model.names)
            text += "        case \(quoted(node.path))\n            printf '%s\\n' \(names.joined(separator: " "))\n"
        }
        text += """
            end
        end

        function __\(name)_path
            set -l tokens (commandline -opc)
            set -l cmdpath \(name)
            set -l skip 0
            for word in $tokens[2..-1]
                if test $skip = 1
                    set skip 0
                    continue
                end
                if string match -q -- '-*' $word
                    if not string match -q -- '*=*' $word; and contains -- $word (__\(name)_value_flags "$cmdpath")
                        set skip 1
                    end
                    continue
                end
                set -l next (__\(name)_subcommand "$cmdpath" $word)
                if test -n "$next"
                    set cmdpath "$cmdpath $next"
                end
            end
            echo $cmdpath
        end

        complete -c \(name) -f

        """
        for node in model.nodes {
            let condition = "-n " + quoted("test (__\(name)_path) = \"\(node.path)\"")
            for child in node.spec.subcommandSpecs where !child.hidden {
                text += "complete -c \(name) \(condition) -a \(child.name) -d \(quoted(child.abstract))\n"
            }
            if let argument = node.spec.arguments.first {
                switch argument.completion {
                case .values(let values):
                    text += "complete -c \(name) \(condition) -a \(quoted(values.joined(separator: " ")))\n"
                case .files, .directories:
                    text += "complete -c \(name) \(condition) -F\n"
                case .dynamic(let source):
                    text += "complete -c \(name) \(condition) -a \(quoted("(\(name) __complete \(source.rawValue) 2>/dev/null)"))\n"
                case .none:
                    break
                }
            }
            for flag in node.flags {
                var line = "complete -c \(name) \(condition)"
                if let short = flag.short { line += " -s \(short)" }
                line += " -l \(flag.name)"
                switch flag.completion {
                case .values(let values): line += " -x -a \(quoted(values.joined(separator: " ")))"
                case .files, .directories: line += " -r -F"
                case .dynamic(let source): line += " -x -a \(quoted("(\(name) __complete \(source.rawValue) 2>/dev/null)"))"
                case .none: if flag.takesValue { line += " -x" }
                }
                line += " -d \(quoted(flag.help))"
                text += line + "\n"
            }
        }
        return text
    }
}
