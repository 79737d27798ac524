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
} as const satisfies Record<string, PinnedSource>;

/** The local source: Debian's own documentation, split by package between training and evaluation. */
export const DEBIAN_DOCS = {
  path: "/usr/share/doc",
  licence: "each package's own DFSG-free licence (see its copyright file)",
  use:
    "hard benign: sentences from installed packages' READMEs and NEWS files that use trigger words (ignore, override, forget, disregard, act as, instructions, bypass); packages are split by a hash of their name; whole paragraphs of the training packages' READMEs as benign documents",
} as const;
