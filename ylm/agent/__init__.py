"""Agentic data: trajectories, the Youtu chat format with loss masks, and synthesis with real tools.

    trajectory     the data model (turns, tool calls, failed branches, Agentic-CoT phases) and its JSON form
    schema         the JSON-schema subset of tool parameters; the one check of a tool call against its tools
    validate       trajectory validation: turn grammar, tool calls, text, reserved markers
    render         rendering to the Youtu chat format with a loss mask (text, segments, ids, mask)
    parse          rendered text back to trajectories; model completions to tool calls
    convert        OpenAI and Hermes/Qwen message formats
    chat_template  the Youtu Jinja chat template and a transformers tokenizer that carries it
    tools          the real tools: calculator, Python test sandbox, BM25 search/read
    synth          small synthetic trajectory sets (math, code, research, tool use) built with those tools
    stats          tokens and loss per category, the mix against the paper's, agreement with the template
    runtime        the agent loop: a policy (a model with its KV cache, or a scripted fake) and real tool calls
    toybench       a toy agent benchmark graded by difficulty (math, tool use, lookup, recovery), held out
    toybench_scoring  its scores: valid and right calls, success, recovery, steps; the call given the thinking

Imports the top level (paths, data, timing, checks), ``ylm.tokenizer`` and ``ylm.model`` (the runtime decodes
with a ``CausalLM``), never train.
"""
