/** The FHIR R4 resource type names, for typing files by name the way Cumulus ETL does. */

/**
 * Every R4 (4.0.1) resource type (http://hl7.org/fhir/R4/resourcelist.html), except
 * SubstanceNucleicAcid, which cumulus-fhir-support's list (the one the ETL types file names
 * with) leaves out.
 */
export const R4_TYPES: ReadonlySet<string> = new Set(
  `
  Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
  AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
  CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
  ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
  Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
  CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric
  DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference
  EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse
  EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario
  ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse
  HealthcareService ImagingStudy Immunization ImmunizationEvaluation
  ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
  Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense
  MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
  MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
  MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
  MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
  MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
  ObservationDefinition OperationDefinition OperationOutcome Organization
  OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
  PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
  QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
  ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
  RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
  SpecimenDefinition StructureDefinition StructureMap Subscription Substance
  SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
  SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
  TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
  VisionPrescription
`.trim().split(/\s+/).filter((name) => name !== "SubstanceNucleicAcid"),
);
