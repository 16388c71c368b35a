"""A small OpenAI-compatible streaming server over transformers, for benchmarking on CPU.

    python -m engine.serving.openai_server --model DIR --port 8000 [--device cpu] [--served-name NAME]

Routes: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions
(streaming as server-sent events with `stream: true`, usage in the last chunk,
and per chunk with stream_options.continuous_usage_stats). Generation is
transformers' own `generate` with a streamer that hands over every new token;
requests are served one at a time (a CPU has no spare compute to batch with).
`ignore_eos: true` (what guidellm sends) generates exactly max_tokens.
Standard library HTTP/1.1 with chunked transfer, so keep-alive works.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MAX_TOKENS = 16


class TokenQueue:
    """A transformers streamer: generate() puts token ids here, the HTTP handler reads them."""

    def __init__(self, skip_prompt_tokens: int):
        self.queue: queue.Queue = queue.Queue()
        self.skip = skip_prompt_tokens
        self.cancelled = threading.Event()  # the client went away: stop generating

    def put(self, value) -> None:
        ids = value.reshape(-1).tolist()
        if self.skip:  # generate() first puts the prompt itself
            self.skip = 0
            return
        for token in ids:
            self.queue.put(token)

    def end(self) -> None:
        self.queue.put(None)


class _Cancelled:
    """Stops generate() once the client has gone (a StoppingCriteria, duck-typed to keep imports lazy)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class Engine:
    def __init__(self, model_dir: str, device: str, name: str, dtype: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.name = name
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        torch_dtype = torch.float32 if dtype == "float32" else (getattr(torch, dtype) if dtype != "auto" else "auto")
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype).to(device).eval()
        self.lock = threading.Lock()  # one generation at a time
        self.max_length = getattr(self.model.config, "max_position_embeddings", 2048)

    def prompt_ids(self, body: dict[str, Any], chat: bool) -> list[int]:
        if chat:
            messages = [_message(m) for m in body.get("messages", [])]
            if not messages:
                raise ValueError("messages: at least one message is needed")
            if self.tokenizer.chat_template:
                out = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
                return list(out["input_ids"] if hasattr(out, "keys") else out)
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        else:
            prompt = body.get("prompt", "")
            text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
        return self.tokenizer(text)["input_ids"]

    def generate(self, ids: list[int], max_tokens: int, ignore_eos: bool, temperature: float, streamer) -> None:
        from transformers import StoppingCriteriaList

        torch = self.torch
        ids = ids[-max(1, self.max_length - max_tokens) :]  # keep the prompt inside the context window
        inputs = torch.tensor([ids], device=self.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": temperature > 0,
            "streamer": streamer,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "attention_mask": torch.ones_like(inputs),
        }
        if temperature > 0:
            kwargs["temperature"] = temperature
        if ignore_eos:
            kwargs["min_new_tokens"] = max_tokens
        kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(streamer.cancelled)])
        with self.lock, torch.inference_mode():
            self.model.generate(inputs, **kwargs)


def _message(m: dict[str, Any]) -> dict[str, str]:
    content = m.get("content", "")
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return {"role": str(m.get("role", "user")), "content": str(content)}


def make_handler(engine: Engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

        def _json(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._json(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/v1/models":
                model = {"id": engine.name, "object": "model", "owned_by": "metaprogram-runner", "created": 0}
                self._json(200, {"object": "list", "data": [model]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            route = self.path.rstrip("/")
            if route not in ("/v1/completions", "/v1/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                chat = route.endswith("chat/completions")
                ids = engine.prompt_ids(body, chat)
                max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS)
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
                return
            options = body.get("stream_options") or {}
            args = (max_tokens, bool(body.get("ignore_eos")), float(body.get("temperature") or 0.0))
            if body.get("stream"):
                self._stream(ids, chat, args, bool(options.get("continuous_usage_stats")))
            else:
                self._complete(ids, chat, args)

        def _run(self, ids: list[int], args: tuple) -> TokenQueue:
            streamer = TokenQueue(skip_prompt_tokens=len(ids))
            thread = threading.Thread(target=self._generate, args=(ids, args, streamer), daemon=True)
            thread.start()
            return streamer

        @staticmethod
        def _generate(ids, args, streamer) -> None:
            try:
                engine.generate(ids, *args, streamer=streamer)
            finally:
                streamer.end()

        def _complete(self, ids: list[int], chat: bool, args: tuple) -> None:
            streamer = self._run(ids, args)
            tokens = list(iter(streamer.queue.get, None))
            text = engine.tokenizer.decode(tokens, skip_special_tokens=True)
            choice = {"index": 0, "finish_reason": "length" if len(tokens) >= args[0] else "stop"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            self._json(200, _envelope(chat, False, [choice], _usage(len(ids), len(tokens))))

        def _stream(self, ids: list[int], chat: bool, args: tuple, continuous: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            streamer = self._run(ids, args)
            try:
                self._send_stream(streamer, ids, chat, args, continuous)
            except (BrokenPipeError, ConnectionResetError):
                streamer.cancelled.set()
                self.close_connection = True

        def _send_stream(self, streamer: TokenQueue, ids: list[int], chat: bool, args: tuple, continuous: bool) -> None:
            tokens: list[int] = []
            sent = ""
            if chat:
                self._event(_envelope(chat, True, [{"index": 0, "delta": {"role": "assistant"}}]))
            for token in iter(streamer.queue.get, None):
                tokens.append(token)
                text = engine.tokenizer.decode(tokens, skip_special_tokens=True)
                piece, sent = text[len(sent) :], text
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                usage = _usage(len(ids), len(tokens)) if continuous else None
                self._event(_envelope(chat, True, [{"index": 0, "finish_reason": None, **delta}], usage))
            final = {"index": 0, "finish_reason": "length" if len(tokens) >= args[0] else "stop"}
            final.update({"delta": {}} if chat else {"text": ""})
            self._event(_envelope(chat, True, [final], _usage(len(ids), len(tokens))))
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _event(self, data: dict[str, Any]) -> None:
            self._chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _envelope(chat: bool, stream: bool, choices: list[dict], usage: dict | None = None) -> dict[str, Any]:
    kind = "chat.completion" if chat else "text_completion"
    data = {
        "id": f"cmpl-{uuid.uuid4().hex[:16]}",
        "object": kind + (".chunk" if stream and chat else ""),
        "created": int(time.time()),
        "model": ENGINE_NAME[0],
        "choices": choices,
    }
    if usage is not None:
        data["usage"] = usage
    return data


ENGINE_NAME = ["model"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible streaming server over transformers")
    parser.add_argument("--model", required=True, help="a local transformers model folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--served-name", default=None, help="the model id that /v1/models reports")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    engine = Engine(args.model, args.device, args.served_name or args.model, args.dtype)
    ENGINE_NAME[0] = engine.name
    server = ThreadingHTTPServer((args.host, args.port), make_handler(engine))
    server.daemon_threads = True
    print(f"serving {args.model} as {engine.name!r} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
