"""Bad input to the model's public entry points: one ValueError naming the field, never NaN or a torch trace.

Each case was accepted silently (non-finite floats gave NaN or all-zero logits) or failed deep inside torch
before these checks existed.
"""

from __future__ import annotations

import math

import pytest
import torch

from ylm.model.cache import init_cache
from ylm.model.causal_lm import CausalLM
from ylm.model.config import tiny_mla

YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}


@pytest.mark.parametrize("field", ["rope_theta", "rms_norm_eps", "initializer_range", "embedding_initializer_range"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_floats_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}=.*finite"):
        tiny_mla(**{field: value})


@pytest.mark.parametrize("key", ["factor", "beta_fast", "mscale"])
def test_non_finite_yarn_values_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match=rf"rope_scaling\['{key}'\].*finite"):
        tiny_mla(rope_scaling={**YARN, key: math.inf})


@pytest.fixture(scope="module")
def model() -> CausalLM:
    torch.manual_seed(0)
    return CausalLM(tiny_mla()).eval()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int8, torch.float32, torch.bool])
def test_ids_of_a_dtype_the_embedding_cannot_take(model: CausalLM, dtype: torch.dtype) -> None:
    with pytest.raises(ValueError, match="input_ids.*torch.int64 or torch.int32"):
        model(torch.ones(1, 3, dtype=dtype))


def test_int32_ids_work(model: CausalLM) -> None:
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(model(ids.int()), model(ids))


@pytest.mark.parametrize("kwargs, field", [
    ({"input_ids": torch.zeros(1, 0, dtype=torch.long), "max_new_tokens": 2}, "input_ids"),
    ({"input_ids": [[1, 2]], "max_new_tokens": 2}, "input_ids"),
    ({"input_ids": torch.tensor([[1, 2]]), "max_new_tokens": "3"}, "max_new_tokens"),
    ({"input_ids": torch.tensor([[1, 2]]), "max_new_tokens": -1}, "max_new_tokens"),
    ({"input_ids": torch.tensor([[1, 2]]), "max_new_tokens": 2.5}, "max_new_tokens"),
    ({"input_ids": torch.tensor([[1, 2]]), "max_new_tokens": 2, "eos_token_id": "2"}, "eos_token_id"),
])
def test_generate_names_the_bad_argument(model: CausalLM, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        model.generate(**kwargs)


@pytest.mark.parametrize("kwargs, field", [
    ({"batch_size": "1", "max_len": 8}, "batch_size"),
    ({"batch_size": 1, "max_len": 8.0}, "max_len"),
    ({"batch_size": True, "max_len": 8}, "batch_size"),
    ({"batch_size": 1, "max_len": 0}, "max_len"),
    ({"batch_size": 1, "max_len": 8, "dtype": "bf16"}, "dtype"),
    ({"batch_size": 1, "max_len": 8, "dtype": torch.int64}, "dtype"),
])
def test_init_cache_names_the_bad_argument(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        init_cache(tiny_mla(), **kwargs)
