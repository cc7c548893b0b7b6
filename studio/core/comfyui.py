"""Best-effort parameters from ComfyUI PNGs (`prompt` API graph or `workflow` UI graph).

Finds the KSampler node and follows its links: positive/negative to CLIPTextEncode text, model
to the checkpoint loader, latent_image to EmptyLatentImage. Hostile input yields None or
partial fields, never an exception (callers also guard).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from studio.core.image_parameters import ImageParameters, _float, _int, map_sampler

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
        if isinstance(node, dict) and isinstance(node.get("class_type"), str) and _is_id(node_id):
            inputs = node.get("inputs")
            graph[_link_id([node_id])] = {"class_type": node["class_type"],
                                   "inputs": inputs if isinstance(inputs, dict) else {}}
    return graph


def _workflow_graph(workflow: object) -> Graph:
    """The UI workflow as an API-like graph: widget values by name, links as [id, slot]."""
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        return {}
    links: dict[int | str, list[object]] = {}
    for link in _list(workflow.get("links")):
        source = _link_id(link[1:2]) if isinstance(link, list) and len(link) >= 3 else ""
        if source and _is_id(link[0]):
            links[link[0]] = [source, link[2]]
    graph: Graph = {}
    for node in workflow["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        inputs = _widget_inputs(node["type"], node.get("widgets_values"))
        for slot in _list(node.get("inputs")):
            if isinstance(slot, dict) and isinstance(slot.get("name"), str):
                link_id = slot.get("link")
                target = links.get(link_id) if _is_id(link_id) else None
                if target is not None:
                    inputs[slot["name"]] = target
        node_id = node.get("id")
        graph[_link_id([node_id]) or f"?{len(graph)}"] = {"class_type": node["type"],
                                                          "inputs": inputs}
    return graph


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _is_id(value: object) -> bool:
    """A usable (hashable, scalar) node or link id: a list, dict or float is not one."""
    return isinstance(value, int | str) and not isinstance(value, bool)


def _widget_inputs(node_type: str, values: object) -> dict[str, Any]:
    if isinstance(values, dict):
        return dict(values)
    names = _WIDGETS.get(node_type, ())
    if not isinstance(values, list):
        return {}
    return {name: value for name, value in zip(names, values, strict=False) if name}


def _sort_key(node_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order, then the others ("²" is a digit but not a number)."""
    if node_id.isascii() and node_id.isdigit() and len(node_id) <= 18:
        return int(node_id), ""
    return 10**18, node_id


def _pick_sampler(graph: Graph) -> dict[str, Any] | None:
    """The first full-denoise KSampler (the base pass), else the first sampler at all."""
    samplers = [graph[i] for i in sorted(graph, key=_sort_key)
                if "KSampler" in graph[i]["class_type"]
                or graph[i]["class_type"] == "SamplerCustom"]
    for node in samplers:
        if _strength(node["inputs"].get("denoise")) is None:
            return node
    return samplers[0] if samplers else None


def _link_id(link: object) -> str:
    """The node id a `[node_id, slot]` link points at, or "" when it is not a link."""
    if isinstance(link, list) and link and _is_id(link[0]):
        return link[0] if isinstance(link[0], str) else _int_id(link[0])
    return ""


def _int_id(value: int) -> str:
    return str(value) if -(10**18) < value < 10**18 else ""  # str() of a huge int raises


def _linked(graph: Graph, link: object) -> dict[str, Any] | None:
    node_id = _link_id(link)
    return graph.get(node_id) if node_id else None


def _follow_text(graph: Graph, link: object, seen: set[str] | None = None) -> str | None:
    """Text of the CLIPTextEncode (or string primitive) behind a conditioning link.

    Each node is visited once, so hostile graphs (cycles, fan-out) stay linear.
    """
    seen = set() if seen is None else seen
    node = _linked(graph, link)
    node_id = _link_id(link) if node is not None else ""
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
