/**
 * Code tables the data generators draw from: real LOINC, SNOMED CT, RxNorm and CVX codes, so
 * filters and downstream tools see plausible data.
 *
 * @module
 */

/** A coding as written into resources. */
export interface Code {
  system: string;
  code: string;
  display: string;
}

/** Start of generated clinical time (inclusive). */
export const DATA_START = Date.UTC(2020, 0, 1);
/** End of generated clinical time (exclusive). */
export const DATA_END = Date.UTC(2026, 0, 1);

const LOINC = "http://loinc.org";
const SNOMED = "http://snomed.info/sct";
const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";

/** The HL7 observation-category code system. */
export const OBS_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category";
/** The code system Epic uses for its own, non-standard observation categories. */
export const EPIC_CATEGORY_SYSTEM =
  "http://open.epic.com/FHIR/StructureDefinition/observation-category";

/** The nine standard categories, then two non-standard ones (Epic SmartData, genomics). */
export const OBS_CATEGORIES = [
  "social-history",
  "vital-signs",
  "imaging",
  "laboratory",
  "procedure",
  "survey",
  "exam",
  "therapy",
  "activity",
  "smartdata",
  "genomics",
] as const;

/** One observation kind per category: its code and how to make a value. */
export const OBS_KINDS: Record<
  string,
  { code: Code; unit?: string; range?: [number, number]; text?: string[] }
> = {
  "social-history": {
    code: { system: LOINC, code: "72166-2", display: "Tobacco smoking status" },
    text: ["Never smoker", "Former smoker", "Current every day smoker"],
  },
  "vital-signs": {
    code: { system: LOINC, code: "8867-4", display: "Heart rate" },
    unit: "/min",
    range: [52, 118],
  },
  imaging: {
    code: { system: LOINC, code: "18748-4", display: "Diagnostic imaging study" },
    text: ["No acute findings.", "Mild degenerative changes.", "Small effusion noted."],
  },
  laboratory: {
    code: { system: LOINC, code: "2339-0", display: "Glucose [Mass/volume] in Blood" },
    unit: "mg/dL",
    range: [65, 210],
  },
  procedure: {
    code: { system: LOINC, code: "29554-3", display: "Procedure Narrative" },
    text: ["Procedure tolerated well.", "No complications."],
  },
  survey: {
    code: { system: LOINC, code: "44261-6", display: "PHQ-9 total score" },
    unit: "{score}",
    range: [0, 27],
  },
  exam: {
    code: { system: LOINC, code: "29545-1", display: "Physical findings" },
    text: ["Lungs clear to auscultation.", "Abdomen soft, non-tender."],
  },
  therapy: {
    code: { system: LOINC, code: "18776-5", display: "Plan of care note" },
    text: ["Continue physical therapy twice weekly.", "Occupational therapy referral."],
  },
  activity: {
    code: { system: LOINC, code: "55423-8", display: "Number of steps" },
    unit: "{steps}",
    range: [800, 14000],
  },
  smartdata: {
    code: {
      system: "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679",
      code: "SDE-4471",
      display: "SmartData element",
    },
    text: ["Yes", "No", "Patient declined"],
  },
  genomics: {
    code: { system: LOINC, code: "69548-6", display: "Genetic variant assessment" },
    text: ["Present", "Absent"],
  },
};

/** Condition codes. */
export const CONDITIONS: Code[] = [
  { system: SNOMED, code: "44054006", display: "Diabetes mellitus type 2" },
  { system: SNOMED, code: "38341003", display: "Hypertensive disorder" },
  { system: SNOMED, code: "195967001", display: "Asthma" },
  { system: SNOMED, code: "35489007", display: "Depressive disorder" },
  { system: SNOMED, code: "55822004", display: "Hyperlipidemia" },
  { system: SNOMED, code: "840539006", display: "COVID-19" },
];

/** Medication codes (shared Medication resources). */
export const MEDICATIONS: Code[] = [
  { system: RXNORM, code: "860975", display: "metformin 500 MG Oral Tablet" },
  { system: RXNORM, code: "197361", display: "amlodipine 5 MG Oral Tablet" },
  { system: RXNORM, code: "314076", display: "lisinopril 10 MG Oral Tablet" },
  { system: RXNORM, code: "617314", display: "atorvastatin 10 MG Oral Tablet" },
  { system: RXNORM, code: "745679", display: "albuterol 90 MCG Inhaler" },
  { system: RXNORM, code: "312938", display: "sertraline 50 MG Oral Tablet" },
  { system: RXNORM, code: "198440", display: "acetaminophen 500 MG Oral Tablet" },
  { system: RXNORM, code: "308182", display: "amoxicillin 250 MG Oral Capsule" },
];

/** Vaccine codes. */
export const VACCINES: Code[] = [
  {
    system: "http://hl7.org/fhir/sid/cvx",
    code: "140",
    display: "Influenza, seasonal, injectable",
  },
  { system: "http://hl7.org/fhir/sid/cvx", code: "207", display: "COVID-19, mRNA, LNP-S" },
  { system: "http://hl7.org/fhir/sid/cvx", code: "115", display: "Tdap" },
  { system: "http://hl7.org/fhir/sid/cvx", code: "08", display: "Hep B, adolescent or pediatric" },
];

/** Allergy substance codes. */
export const ALLERGIES: Code[] = [
  { system: SNOMED, code: "764146007", display: "Penicillin" },
  { system: SNOMED, code: "227493005", display: "Cashew nuts" },
  { system: SNOMED, code: "111088007", display: "Latex" },
  { system: SNOMED, code: "256259004", display: "Pollen" },
];

/** Procedure codes. */
export const PROCEDURES: Code[] = [
  { system: SNOMED, code: "73761001", display: "Colonoscopy" },
  { system: SNOMED, code: "80146002", display: "Appendectomy" },
  { system: SNOMED, code: "430193006", display: "Medication reconciliation" },
  { system: SNOMED, code: "274474001", display: "Bone immobilization" },
];

/** Device type codes. */
export const DEVICES: Code[] = [
  { system: SNOMED, code: "272265001", display: "Glucose monitor" },
  { system: SNOMED, code: "14106009", display: "Cardiac pacemaker" },
  { system: SNOMED, code: "706180003", display: "Respiratory humidifier" },
];

/** ServiceRequest codes. */
export const SERVICES: Code[] = [
  { system: SNOMED, code: "15220000", display: "Laboratory test" },
  { system: SNOMED, code: "363680008", display: "Radiographic imaging procedure" },
  { system: SNOMED, code: "386053000", display: "Evaluation procedure" },
];

/** DocumentReference type codes. */
export const DOCUMENT_TYPES: Code[] = [
  { system: LOINC, code: "11506-3", display: "Progress note" },
  { system: LOINC, code: "18842-5", display: "Discharge summary" },
  { system: LOINC, code: "34117-2", display: "History and physical note" },
  { system: LOINC, code: "11488-4", display: "Consult note" },
];

/** DiagnosticReport codes. */
export const REPORTS: Code[] = [
  { system: LOINC, code: "58410-2", display: "CBC panel - Blood by Automated count" },
  { system: LOINC, code: "24323-8", display: "Comprehensive metabolic panel" },
  { system: LOINC, code: "24331-1", display: "Lipid panel" },
];

/** EpisodeOfCare type codes. */
export const EPISODE_TYPES: Code[] = [
  {
    system: "http://terminology.hl7.org/CodeSystem/episodeofcare-type",
    code: "hacc",
    display: "Home and Community Care",
  },
  {
    system: "http://terminology.hl7.org/CodeSystem/episodeofcare-type",
    code: "diab",
    display: "Post coordinated diabetes program",
  },
  {
    system: "http://terminology.hl7.org/CodeSystem/episodeofcare-type",
    code: "pac",
    display: "Post Acute Care",
  },
];

/** Encounter classes. */
export const ENCOUNTER_CLASSES: Code[] = [
  {
    system: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    code: "AMB",
    display: "ambulatory",
  },
  {
    system: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    code: "IMP",
    display: "inpatient encounter",
  },
  {
    system: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    code: "EMER",
    display: "emergency",
  },
];

/** Given names (some non-ASCII, to exercise UTF-8 handling). */
export const GIVEN_NAMES = [
  "Ana",
  "Bruno",
  "Chloé",
  "Dmitri",
  "Emeka",
  "Fatima",
  "Grace",
  "Hiroshi",
  "Inés",
  "Jonas",
  "Kwame",
  "Lena",
  "Mateo",
  "Nadia",
  "Oskar",
  "Priya",
  "Quinn",
  "Rosa",
  "Søren",
  "Tomás",
];

/** Family names. */
export const FAMILY_NAMES = [
  "Abara",
  "Becker",
  "Castillo",
  "Dubois",
  "Eriksen",
  "Fontaine",
  "García",
  "Haddad",
  "Ito",
  "Jovanović",
  "Kowalski",
  "Lindqvist",
  "Moreau",
  "Nakamura",
  "Okafor",
  "Petrov",
  "Rossi",
  "Schmidt",
  "Tanaka",
  "Müller",
];
