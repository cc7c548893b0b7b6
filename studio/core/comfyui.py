"""Best-effort parameters from ComfyUI PNGs (`prompt` API graph or `workflow` UI graph).

Finds the KSampler node and follows its links: positive/negative to CLIPTextEncode text, model
to the checkpoint loader, latent_image to EmptyLatentImage. Hostile input yields None or
partial fields, never an exception (callers also guard).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from studio.core.metadata import ImageParameters, _float, _int, map_sampler

Graph = dict[str, dict[str, Any]]
_MAX_DEPTH = 32

# widgets_values order of the UI `workflow` format (None = the "control after generate" slot)
_WIDGETS: dict[str, tuple[str | None, ...]] = {
    "KSampler": ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", None, "steps", "cfg", "sampler_name",
                         "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"),
    "CLIPTextEncode": ("text",),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "CheckpointLoaderSimple": ("ckpt_name",),
}


def parameters_from_comfyui(prompt: object, workflow: object) -> ImageParameters | None:
    """Parameters from the decoded `prompt` (preferred) or `workflow` JSON, or None."""
    graph = _api_graph(prompt) or _workflow_graph(workflow)
    if not graph:
        return None
    sampler = _pick_sampler(graph)
    if sampler is None:
        texts = [n["inputs"].get("text") for n in graph.values()
                 if n["class_type"] == "CLIPTextEncode"]
        texts = [t for t in texts if isinstance(t, str)]
        return ImageParameters(prompt=texts[0], source="comfyui") if texts else None
    inputs = sampler["inputs"]
    width, height = _size(graph, inputs.get("latent_image"))
    return ImageParameters(
        prompt=_follow_text(graph, inputs.get("positive")),
        negative_prompt=_follow_text(graph, inputs.get("negative")),
        steps=_int(inputs.get("steps"), 1, 10_000),
        scheduler=map_sampler(_str(inputs.get("sampler_name")), _str(inputs.get("scheduler"))),
        guidance=_float(inputs.get("cfg"), 0.0, 100.0),
        seed=_int(inputs.get("seed", inputs.get("noise_seed")), 0, 2**64),
        width=width, height=height,
        model=_model(graph, inputs.get("model")),
        strength=_strength(inputs.get("denoise")),
        source="comfyui",
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _strength(value: object) -> float | None:
    denoise = _float(value, 0.0, 1.0)
    return None if denoise is None or denoise >= 0.999 else denoise


def _api_graph(prompt: object) -> Graph:
    if not isinstance(prompt, dict):
        return {}
    graph: Graph = {}
    for node_id, node in prompt.items():
        if isinstance(node, dict) and isinstance(node.get("class_type"), str):
            inputs = node.get("inputs")
            graph[str(node_id)] = {"class_type": node["class_type"],
                                   "inputs": inputs if isinstance(inputs, dict) else {}}
    return graph


def _workflow_graph(workflow: object) -> Graph:
    """The UI workflow as an API-like graph: widget values by name, links as [id, slot]."""
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        return {}
    links: dict[object, list[object]] = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 3:
            links[link[0]] = [str(link[1]), link[2]]
    graph: Graph = {}
    for node in workflow["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        inputs = _widget_inputs(node["type"], node.get("widgets_values"))
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and isinstance(slot.get("name"), str):
                target = links.get(slot.get("link"))
                if target is not None:
                    inputs[slot["name"]] = target
        graph[str(node.get("id"))] = {"class_type": node["type"], "inputs": inputs}
    return graph


def _widget_inputs(node_type: str, values: object) -> dict[str, Any]:
    if isinstance(values, dict):
        return dict(values)
    names = _WIDGETS.get(node_type, ())
    if not isinstance(values, list):
        return {}
    return {name: value for name, value in zip(names, values, strict=False) if name}


def _sort_key(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (10**9, node_id)


def _pick_sampler(graph: Graph) -> dict[str, Any] | None:
    """The first full-denoise KSampler (the base pass), else the first sampler at all."""
    samplers = [graph[i] for i in sorted(graph, key=_sort_key)
                if "KSampler" in graph[i]["class_type"]
                or graph[i]["class_type"] == "SamplerCustom"]
    for node in samplers:
        if _strength(node["inputs"].get("denoise")) is None:
            return node
    return samplers[0] if samplers else None


def _linked(graph: Graph, link: object) -> dict[str, Any] | None:
    if isinstance(link, list) and link and isinstance(link[0], str | int):
        return graph.get(str(link[0]))
    return None


def _follow_text(graph: Graph, link: object, seen: set[str] | None = None) -> str | None:
    """Text of the CLIPTextEncode (or string primitive) behind a conditioning link.

    Each node is visited once, so hostile graphs (cycles, fan-out) stay linear.
    """
    seen = set() if seen is None else seen
    node = _linked(graph, link)
    node_id = str(link[0]) if node is not None else ""  # type: ignore[index]
    if node is None or node_id in seen or len(seen) > 10 * _MAX_DEPTH:
        return None
    seen.add(node_id)
    inputs = node["inputs"]
    for key in ("text", "text_g", "string", "value", "prompt"):
        if isinstance(inputs.get(key), str):
            return inputs[key]
    ordered = [inputs.get(k) for k in ("text", "text_g", "string", "value", "prompt")]
    ordered += list(inputs.values())  # e.g. ConditioningCombine: the first text upstream
    for value in ordered:
        if isinstance(value, list):
            found = _follow_text(graph, value, seen)
            if found is not None:
                return found
    return None


def _model(graph: Graph, link: object, depth: int = 0) -> str | None:
    node = _linked(graph, link)
    if node is None or depth > _MAX_DEPTH:
        return None
    inputs = node["inputs"]
    for key in ("ckpt_name", "unet_name", "model_name"):
        if isinstance(inputs.get(key), str):
            return PurePath(inputs[key].replace("\\", "/")).stem or None
    return _model(graph, inputs.get("model"), depth + 1)


def _size(graph: Graph, link: object, depth: int = 0) -> tuple[int | None, int | None]:
    node = _linked(graph, link)
    if node is None or depth > _MAX_DEPTH:
        return None, None
    inputs = node["inputs"]
    width, height = _int(inputs.get("width"), 1, 65536), _int(inputs.get("height"), 1, 65536)
    if width and height:
        return width, height
    for key in ("samples", "latent", "pixels", "image"):
        if isinstance(inputs.get(key), list):
            return _size(graph, inputs[key], depth + 1)
    return None, None
