package main

import (
	"regexp"
	"strings"
)

// rowCommand is the command that reproduces one benchmark's row: the
// run's command with its -bench pattern anchored to that benchmark (and
// its sub-benchmarks' names), and its package alone when the command
// named several. An empty command yields "".
func rowCommand(cmd, name, pkg, module string) string {
	args := shellSplit(cmd)
	if len(args) == 0 {
		return ""
	}
	pattern := anchored(name)
	var pkgs []int
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-bench" || a == "--bench":
			if i+1 < len(args) {
				args[i+1] = pattern
				i++
			}
		case strings.HasPrefix(a, "-bench=") || strings.HasPrefix(a, "--bench="):
			args[i] = a[:strings.Index(a, "=")+1] + pattern
		case a == "." || strings.HasPrefix(a, "./") || strings.HasPrefix(a, "../"):
			pkgs = append(pkgs, i)
		}
	}
	if len(pkgs) > 1 {
		for j := len(pkgs) - 1; j >= 0; j-- {
			args = append(args[:pkgs[j]], args[pkgs[j]+1:]...)
		}
		args = append(args, relPackage(pkg, module))
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// anchored is a -bench pattern that matches name alone: each level of a
// sub-benchmark's name anchored and quoted.
func anchored(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// shellSplit splits a command line as a POSIX shell would split words
// (quotes and backslashes; no expansions).
func shellSplit(s string) []string {
	var out []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			word.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				word.WriteByte(s[i])
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			word.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, word.String())
	}
	return out
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./=:,+@%-]+$`)

// shellQuote quotes a word for a POSIX shell when it needs quotes.
func shellQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
