/**
 * Labeled synthetic text: prose in several languages, log lines and source code, with valid
 * entities and look-alikes mixed in. Labels are exact UTF-16 spans.
 */
import type { PiiType } from "@a3s/wasm/pii";
import type { EntityType } from "../privacy/entities.ts";
import { Random } from "./random.ts";
import { ENTITY_GENERATORS, LOOK_ALIKES } from "./entities.ts";

/** A labeled span: what a perfect scanner reports. */
export interface LabeledSpan {
  type: EntityType;
  start: number;
  end: number;
}

/** One generated record. */
export interface LabeledRecord {
  id: string;
  language: string;
  text: string;
  spans: LabeledSpan[];
}

type Language = "en" | "zh" | "de" | "es" | "fr" | "code";

const LABELS: Record<Exclude<Language, "code">, Record<PiiType, string>> = {
  en: {
    email: "email",
    phone: "phone number",
    credit_card: "card number",
    iban: "IBAN",
    us_ssn: "SSN",
    cn_id: "Chinese ID",
    ip_address: "server address",
    secret: "credential",
  },
  zh: {
    email: "邮箱",
    phone: "电话",
    credit_card: "银行卡号",
    iban: "国际银行账号",
    us_ssn: "社会安全号",
    cn_id: "身份证号",
    ip_address: "服务器地址",
    secret: "密钥",
  },
  de: {
    email: "E-Mail-Adresse",
    phone: "Telefonnummer",
    credit_card: "Kartennummer",
    iban: "IBAN",
    us_ssn: "SSN",
    cn_id: "Ausweisnummer",
    ip_address: "IP-Adresse",
    secret: "Zugangsdaten",
  },
  es: {
    email: "correo",
    phone: "teléfono",
    credit_card: "número de tarjeta",
    iban: "IBAN",
    us_ssn: "SSN",
    cn_id: "documento chino",
    ip_address: "dirección IP",
    secret: "credencial",
  },
  fr: {
    email: "courriel",
    phone: "numéro de téléphone",
    credit_card: "numéro de carte",
    iban: "IBAN",
    us_ssn: "SSN",
    cn_id: "carte d'identité chinoise",
    ip_address: "adresse IP",
    secret: "identifiant",
  },
};

const ENTITY_SENTENCES: Record<Exclude<Language, "code">, string[]> = {
  en: [
    "Please reach me via my {label} {value} before Friday.",
    "The {label} on file is {value}, can you confirm?",
    "Updated {label}: {value}",
    "I already sent {value} to the support team yesterday.",
  ],
  zh: [
    "我的{label}是{value}，请查收。",
    "请把{label}（{value}）更新到系统里。",
    "{label}：{value}",
    "昨天已经把{value}发给客服了。",
  ],
  de: [
    "Meine {label} lautet {value}, bitte prüfen.",
    "Bitte die {label} {value} im System ändern.",
    "Neue {label}: {value}",
  ],
  es: [
    "Mi {label} es {value}, gracias.",
    "Por favor, actualice el {label} {value} en el sistema.",
    "Nuevo {label}: {value}",
  ],
  fr: [
    "Mon {label} est {value}, merci de vérifier.",
    "Veuillez mettre à jour le {label} {value} dans le système.",
    "Nouveau {label} : {value}",
  ],
};

const LOOK_ALIKE_SENTENCES: Record<Exclude<Language, "code">, string[]> = {
  en: [
    "Reference {value} was logged on the ticket.",
    "We shipped {value} last week.",
    "See build {value} for details.",
  ],
  zh: ["参考编号{value}已记录。", "上周发布了{value}。"],
  de: ["Die Referenz {value} wurde vermerkt.", "Siehe Vorgang {value} für Details."],
  es: ["La referencia {value} quedó registrada.", "Consulte {value} para más detalles."],
  fr: ["La référence {value} a été enregistrée.", "Voir {value} pour plus de détails."],
};

const FILLER: Record<Exclude<Language, "code">, string[]> = {
  en: [
    "Thanks for the quick reply.",
    "The meeting moved to 3 pm.",
    "Let me know if anything changes.",
  ],
  zh: ["谢谢你的回复。", "会议改到下午三点。", "有变化请告诉我。"],
  de: ["Danke für die schnelle Antwort.", "Das Treffen ist um 15 Uhr."],
  es: ["Gracias por la respuesta.", "La reunión es a las 15 h."],
  fr: ["Merci pour la réponse rapide.", "La réunion est à 15 h."],
};

const CODE_ENTITY_LINES = [
  'const value = "{value}";',
  "logger.info(`user={value} action=login`);",
  "# contact: {value}",
  "export CONFIG_VALUE={value}",
  '  "field": "{value}",',
];
const CODE_LOOK_ALIKE_LINES = [
  'const build = "{value}";',
  "// see {value}",
  "id := {value}",
];
const CODE_FILLER = [
  "function add(a, b) { return a + b; }",
  "for (let i = 0; i < 10; i++) total += i;",
  "if err != nil { return err }",
];

const TYPES = Object.keys(ENTITY_GENERATORS) as PiiType[];
const LANGUAGES: Language[] = ["en", "zh", "de", "es", "fr", "code"];

class RecordBuilder {
  text = "";
  spans: LabeledSpan[] = [];

  append(part: string): void {
    this.text += this.text && !this.text.endsWith("\n") ? (this.isCjk() ? "" : " ") : "";
    this.text += part;
  }

  isCjk(): boolean {
    return /[\u3000-\u9fff\uff00-\uffef]$/.test(this.text);
  }

  /** Appends `template` with `{label}` and `{value}` filled, labeling the value span. */
  fill(template: string, label: string, value: string, labeled?: LabeledSpan): void {
    const filled = template.replace("{label}", label);
    const at = filled.indexOf("{value}");
    this.append("");
    const base = this.text.length + at;
    this.text += filled.slice(0, at) + value + filled.slice(at + 7);
    if (labeled) {
      this.spans.push({ type: labeled.type, start: base + labeled.start, end: base + labeled.end });
    }
  }
}

/**
 * Generates `count` labeled records from `seed`. Each record mixes entities, look-alikes and
 * filler; the same seed always gives the same corpus.
 *
 * @example
 * ```ts
 * import { generateCorpus } from "./generator.ts";
 * const [record] = generateCorpus(1, 1);
 * console.log(record.spans.every((s) => s.end <= record.text.length)); // true
 * ```
 */
export function generateCorpus(count: number, seed: number): LabeledRecord[] {
  const r = new Random(seed);
  const records: LabeledRecord[] = [];
  for (let n = 0; n < count; n++) {
    const language = LANGUAGES[n % LANGUAGES.length];
    const builder = new RecordBuilder();
    const parts = r.int(3, 6);
    for (let p = 0; p < parts; p++) {
      const roll = r.next();
      if (roll < 0.55) {
        const type = TYPES[r.int(0, TYPES.length - 1)];
        const entity = ENTITY_GENERATORS[type](r);
        const span = { type, start: entity.start, end: entity.end };
        if (language === "code") {
          builder.fill(r.pick(CODE_ENTITY_LINES), "", entity.text, span);
          builder.text += "\n";
        } else {
          builder.fill(
            r.pick(ENTITY_SENTENCES[language]),
            LABELS[language][type],
            entity.text,
            span,
          );
        }
      } else if (roll < 0.85) {
        const value = r.pick(LOOK_ALIKES)(r);
        if (language === "code") {
          builder.fill(r.pick(CODE_LOOK_ALIKE_LINES), "", value);
          builder.text += "\n";
        } else {
          builder.fill(r.pick(LOOK_ALIKE_SENTENCES[language]), "", value);
        }
      } else if (language === "code") {
        builder.append(r.pick(CODE_FILLER) + "\n");
      } else {
        builder.append(r.pick(FILLER[language]));
      }
    }
    records.push({ id: `${seed}-${n}`, language, text: builder.text, spans: builder.spans });
  }
  return records;
}
