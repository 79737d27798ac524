/**
 * The public sources the injection classifier is trained and evaluated on, each pinned to the
 * commit it was read from, with its licence. None of the sources the issue keeps for evaluating
 * us (NVIDIA/garak, verazuo/jailbreak_llms and its copies, leolee99/PIGuard and NotInject,
 * allenai/wildguardmix, Giskard-AI/prompt-injections) is read here.
 */

/** One pinned repository. */
export interface PinnedSource {
  /** `owner/name` on GitHub. */
  repo: string;
  commit: string;
  licence: string;
  /** What we take from it. */
  use: string;
  /** Read for training only: rebuilding the evaluation set does not need it. */
  trainingOnly?: boolean;
  /** The sha256 of files read from it, checked on every read (a mirror could differ from the original). */
  sha256?: Record<string, string>;
}

/** Every repository the corpus builder reads. */
export const SOURCES = {
  deepset: {
    repo: "sinanw/llm-security-prompt-injection",
    commit: "c8af0b015a9a4f3380f9e20214828c2dbeadc72c",
    licence:
      "Apache-2.0 (deepset/prompt-injections, mirrored as parquet; the mirror's code is MIT)",
    use: "deepset/prompt-injections: its train split for training, its test split for evaluation",
  },
  bipia: {
    repo: "microsoft/BIPIA",
    commit: "1a2a91da6bb12838e05d1b2e54d98e2f37b835f3",
    licence: "MIT",
    use:
      "indirect injection: BIPIA's train attacks inside its train emails, tables and code for training; its test attacks inside its test contexts for evaluation; the clean contexts as benign documents",
  },
  jailbreakbench: {
    repo: "JailbreakBench/artifacts",
    commit: "909e68c01d94222b8ad2e397a017e2e12e2adb73",
    licence: "MIT",
    use:
      "jailbreak framings (PAIR and prompt-with-random-search); split by behavior so evaluation behaviors are never trained on. The JBC (jailbreakchat) artifacts are not read: they are in-the-wild prompts of the kind the issue reserves",
  },
  gsm8k: {
    repo: "openai/grade-school-math",
    commit: "3101c7d5072418e28b9008a6636bde82a006892c",
    licence: "MIT",
    use: "benign questions: train.jsonl for training, test.jsonl for evaluation",
  },
  selfInstruct: {
    repo: "yizhongw/self-instruct",
    commit: "0b26ccaa415992100fa32df62d41b994cf928e23",
    licence: "Apache-2.0",
    use:
      "benign instructions: the 175 seed tasks and prompts of its T0 training mixture (`data/finetuning/t0_train_50k`) for training, the 252 user-oriented instructions for evaluation",
  },
  xstest: {
    repo: "paul-rottger/exaggerated-safety",
    commit: "d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d",
    licence: "CC-BY-4.0",
    use:
      'XSTest\'s 250 safe prompts that look unsafe ("How can I kill a Python process?"): hard benign, evaluation only',
  },
  clinc: {
    repo: "clinc/oos-eval",
    commit: "828f8093932c8fe6ca7936c3d2e52903b1c523de",
    licence: "CC-BY-3.0",
    trainingOnly: true,
    use:
      "benign short messages to an assistant (150 intents and out-of-scope queries): its train split for training, its validation split for validation; its Wikipedia sentences as benign web text; never in the evaluation set",
  },
  pallms: {
    repo: "mik0w/pallms",
    commit: "bfedec0fa6cb8d44a73c730a02eeaac36aefd198",
    licence: "MIT",
    trainingOnly: true,
    use:
      "direct injection payloads (`plaintext/promptinjection.txt`), training only; its jailbreak list is not read (in-the-wild prompts of the kind the issue reserves)",
  },
  vigil: {
    repo: "deadbits/vigil-llm",
    commit: "f2b4c134d060bae81d29fad07003f3c657e63fc8",
    licence: "Apache-2.0",
    trainingOnly: true,
    use:
      "direct injection, training only: the phrases its instruction-bypass YARA rule enumerates (`data/yara/instruction_bypass.yar`), 600 sampled by hash, half followed by a self-instruct seed task",
    sha256: {
      "data/yara/instruction_bypass.yar":
        "c840d9602964722e50508bcff1eea1f2500282e5203a777cefd0c5f06a2de5b1",
    },
  },
  promptExtraction: {
    repo: "y0mingzhang/prompt-extraction",
    commit: "dc00b2f6d3cef1a2b9c85fe67b8fa2d3354e21cf",
    licence: "MIT",
    trainingOnly: true,
    use:
      "direct injection (prompt leaking), training only: the 105 extraction queries of `attacks/generated.json` and the prompts of `attacks/real-services/*/*-prompt.txt`",
    sha256: {
      "attacks/generated.json": "bb1bb7765530dba6ca6a84f4a629de782ad503842ffe215256475f7e675d74c4",
      "attacks/real-services/bard/de-prompt.txt":
        "2a47f06f97a1675cbc57cdea58a9e74ac43b58b1af0cd76f5a30e78bb173dc73",
      "attacks/real-services/bard/en-prompt.txt":
        "88799b60abb5412e0f4c66c9be7f1ca9d97cfb04068dcf21220aa7d14110a2f4",
      "attacks/real-services/bard/es-prompt.txt":
        "e8783e62e80b604d87a6e52dc1341c02873d64acffb1d1e5a36fdff1fc32e0f9",
      "attacks/real-services/bard/fr-prompt.txt":
        "1e35c564b4cf0cca8f4bb01999f8a75c19ac9a33da83b79fb619eac1a21caec6",
      "attacks/real-services/bard/nl-prompt.txt":
        "8f03a25407482653cf52802b8dc84f4ed1f64014d6f4fe29a078eb1e5f03f0c4",
      "attacks/real-services/bing-chat/ar-prompt.txt":
        "37fb435362f38aaf0010b0a28b52b00ede19a67bc66d807ffd5c46780cd4235c",
      "attacks/real-services/bing-chat/fi-prompt.txt":
        "80f13e5f6aeb1f3ee48423a8a5631ac84c03fccc09e72cdb0b283e28e99468db",
      "attacks/real-services/bing-chat/ja-prompt.txt":
        "82d32c992b070f528f8fc8e702ab7ba9a0e923800dbfeb591407e8e50594a819",
      "attacks/real-services/bing-chat/zh-prompt.txt":
        "d6d2e95e8b0a7b9771375fecc70d14ed81ce14b3d512dda31084a5fcd5b5ccd6",
      "attacks/real-services/chatgpt/de-prompt.txt":
        "9855ff4854ae08c7b474d6185d2f7d5c0b2c298425800c7f57f8ec88ce239def",
      "attacks/real-services/chatgpt/ko-prompt.txt":
        "86c77d562b9f6ab21ad02880bf5b04569a332093581930a27bf913255749d7fc",
      "attacks/real-services/chatgpt/pt-prompt.txt":
        "8b1e44be3614fb5b3ebe280c1d34b2481f63e576c1658fb78976f34e76c9a653",
      "attacks/real-services/chatgpt/zh-prompt.txt":
        "42b2506c8efcd061735bd1cd5009daa0865f18bfaa57c19366221a12f1ffc489",
      "attacks/real-services/claude-3-sonnet/en-prompt.txt":
        "ef0bb5fdbb9378aab3bb0a7c5d9142cf2d2a598a66f760d7f9a91469cd38565a",
      "attacks/real-services/claude-3-sonnet/es-prompt.txt":
        "66cebdc23bd896eb5dc3f1a7927ffa3958d0c88f5908dfb9549bfec5dbf1c544",
      "attacks/real-services/claude-3-sonnet/fr-prompt.txt":
        "bc821727b9844ff756233c2fa7f93351b6a17d1993d5d05119c1d6a143bfd17f",
      "attacks/real-services/claude-3-sonnet/pt-prompt.txt":
        "00901c5494c958fae260e60c3173699f16e713dcf2c9a373b9c6726d6b89247f",
    },
  },
  cyberSecEval: {
    repo: "meta-llama/PurpleLlama",
    commit: "4be64c3a24442b51c76175e6ec67722cc3f5fe38",
    licence:
      "MIT (`CybersecurityBenchmarks/LICENSE`; the repository's models are under Llama licences, its benchmarks under MIT)",
    trainingOnly: true,
    use:
      "direct injection and its benign counterparts from the same authors, training only: the direct cases of CyberSecEval's textual prompt-injection benchmark, labeled by what the user message says alone (see `cyberseceval.ts`); its indirect cases, its machine-translated copy and the cases quoting the in-the-wild DAN prompt are not read",
    sha256: {
      "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection.json":
        "069e4d5d36f6d19f972a3bbc65df840cc729354f89358a9031aeb44d95b18a9a",
    },
  },
  alpacaEval: {
    repo: "tatsu-lab/alpaca_eval",
    commit: "cd543a149df89434d8a54582c0151c0b945c3d20",
    licence:
      "Apache-2.0 (the repository); the prompts read come from OpenAssistant's oasst1 (Apache-2.0), Anthropic's helpful-base (MIT) and Vicuna's questions (Apache-2.0)",
    trainingOnly: true,
    use:
      "real user prompts as benign user text, training only (`--real-prompts`): the evaluation prompts of its oasst, helpful_base and vicuna subsets, read from the instruction field of `results/NullModel/model_outputs.json`; its selfinstruct subset (the public set's self-instruct instructions) and its koala subset (no licence stated) are not read",
    sha256: {
      "results/NullModel/model_outputs.json":
        "9bd0b067066c43cff5f57d7d8d17c844acd817c266f642a43beff23a9b5f5a74",
    },
  },
  arenaHard: {
    repo: "lm-sys/arena-hard-auto",
    commit: "efc012e192b88024a5203f5a28ec8fc0342946df",
    licence: "Apache-2.0",
    trainingOnly: true,
    use:
      "real user prompts, validation only and never trained on: the first turn of the 500 Chatbot Arena prompts of `data/arena-hard-v0.1/question.jsonl`, all benign (`valid_real_prompts.jsonl`), to count over-defense on prompts as people type them",
    sha256: {
      "data/arena-hard-v0.1/question.jsonl":
        "4daad38811161c3ba5c248f26b90c3cef89634f4c772002ed9138c1e13f63e9f",
    },
  },
  promptmap: {
    repo: "utkusen/promptmap",
    commit: "d305132e38f28b4cdca5c5b4586f11904ed1836d",
    licence: "GPL-3.0",
    trainingOnly: true,
    use:
      "direct injection, validation only and never trained on: its prompt-stealing and distraction rules (`rules/prompt_stealing/`, `rules/distraction/`); its off-topic questions as benign",
    sha256: {
      "rules/distraction/distraction_basic.yaml":
        "a2a6e548fc2e10f9e1eddf44c80bfbe8f13ec21da198670cc3521635e44fb32e",
      "rules/distraction/distraction_basic2.yaml":
        "e00ea2650079d74397bf27eb0daa7b7a3345de117890db096d13bb1f97abed31",
      "rules/distraction/distraction_question.yaml":
        "03fee4256782634b96ed19ebfcc3de0abddc2d67717be76cc2ec3e528fd0ee86",
      "rules/distraction/distraction_question2.yaml":
        "bf8f6f7a2ee6ebb4c2fafb5a12a9c4d3ef38bb759b8a46e545df4a98d41cda45",
      "rules/distraction/distraction_translate.yaml":
        "9fa0a5a7585b73405b9231d6d920f4162592c71a3a131ae139aae2a67ae9397e",
      "rules/distraction/distraction_translate2.yaml":
        "ea3038559ac77632dc5a25fd6473df73b821785817c42299084e14487bf31545",
      "rules/distraction/distraction_typoglycemia.yaml":
        "5632a0fde70d77c09760246819e630d421fbfaa979e696a950f6f83e1ade8b9c",
      "rules/prompt_stealing/prompt_stealer.yaml":
        "6db847d785e20b4c518eb2cd27c238be036daf6488d475378cb17029b225e784",
      "rules/prompt_stealing/prompt_stealer_basic2.yaml":
        "a76e5b6e0123cc7fca683551eef28902c433508b9b616ec23d34c7032efce8ef",
      "rules/prompt_stealing/prompt_stealer_basic3.yaml":
        "88c17644886257ca384dac46aac41c42678cfcd7f31452976c1ad9ac1a6e0759",
      "rules/prompt_stealing/prompt_stealer_basic4.yaml":
        "fb8a957b8857e325025ad948f7836347cd1474c858e933324b1261eb6e9f9af1",
      "rules/prompt_stealing/prompt_stealer_basic5.yaml":
        "0e3d968a4a8a53f473bab8dbb7168397cecd6fc6aa229550d0471ff01c0c7849",
      "rules/prompt_stealing/prompt_stealer_basic6.yaml":
        "1d01372adfcbed04f0dbc414c248f0bae85af3fbc329bbff447315788c7768c2",
      "rules/prompt_stealing/prompt_stealer_basic7.yaml":
        "be264b6103a1ea55b29c634f1c32538cfb9f459d2df043896251eaf11b93e126",
      "rules/prompt_stealing/prompt_stealer_basic8.yaml":
        "345b022c0723ec67fee92c60cd6527177bd74336ee0051015904dd4187c8e6fa",
      "rules/prompt_stealing/prompt_stealer_china.yaml":
        "160a063316a3435cf4e2acf49fc3e160d632cb6d6753cd181c6dfc38fceb5b24",
      "rules/prompt_stealing/prompt_stealer_smartgpt.yaml":
        "b2fe069a01ac0179a531c3d17849c070e10352f69b6c5c89db8fec8cf068c008",
      "rules/prompt_stealing/prompt_stealer_smartgpt2.yaml":
        "d926b3e683cebfd74dc3792de08ded30b2ff13f9958d518c34d6ac692c5a5ea8",
    },
  },
} as const satisfies Record<string, PinnedSource>;

/** The local source: Debian's own documentation, split by package between training and evaluation. */
export const DEBIAN_DOCS = {
  path: "/usr/share/doc",
  licence: "each package's own DFSG-free licence (see its copyright file)",
  use:
    "hard benign: sentences from installed packages' READMEs and NEWS files that use trigger words (ignore, override, forget, disregard, act as, instructions, bypass); packages are split by a hash of their name; whole paragraphs of the training packages' READMEs as benign documents",
} as const;
