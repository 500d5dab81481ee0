//! The documents a RAG app retrieves: each service that retrieves has a
//! knowledge base of a fixed set of passages, and a few are fetched per
//! question, popular ones far more often than the rest. A fixed set matters
//! for storage: real retrievers send the same passages again and again,
//! which is what deduplication and compression can exploit; passages made
//! up per question would make every retrieval new content.

use crate::catalog::Service;
use crate::rng::{Rng, Zipf};
use crate::text::TextGen;

/// Passages per knowledge base.
const DOCUMENTS: usize = 150;

pub struct Document {
    pub id: String,
    pub content: String,
}

/// One retrieved passage with its similarity score.
pub struct Retrieved<'a> {
    pub document: &'a Document,
    pub score: f64,
}

pub struct KnowledgeBase {
    documents: Vec<Document>,
    popularity: Zipf,
}

impl KnowledgeBase {
    /// `None` for a service that never retrieves.
    pub fn build(service: &Service, text: &TextGen, rng: &mut Rng) -> Option<KnowledgeBase> {
        if service.retrieval_rate <= 0.0 {
            return None;
        }
        let mut documents = Vec::with_capacity(DOCUMENTS);
        for index in 0..DOCUMENTS {
            // A chunking text splitter's passages: mostly near its chunk size.
            let size = rng.between(400, 1_200);
            let mut content = String::new();
            text.prose(rng, size, &mut content);
            documents.push(Document {
                id: format!("{}-kb-{index:04}#chunk-{}", service.name, rng.below(8)),
                content,
            });
        }
        Some(KnowledgeBase {
            documents,
            popularity: Zipf::new(DOCUMENTS, 1.0, 4.0),
        })
    }

    /// 3–5 distinct passages, best score first.
    pub fn retrieve(&self, rng: &mut Rng) -> Vec<Retrieved<'_>> {
        let count = rng.between(3, 5);
        let mut picked: Vec<usize> = Vec::with_capacity(count);
        while picked.len() < count {
            let index = self.popularity.sample(rng);
            if !picked.contains(&index) {
                picked.push(index);
            }
        }
        let mut score = 0.78 + rng.unit() * 0.17;
        let mut out = Vec::with_capacity(count);
        for index in picked {
            out.push(Retrieved {
                document: &self.documents[index],
                // Scores as a vector store returns them: rounded floats.
                score: (score * 10_000.0).round() / 10_000.0,
            });
            score -= 0.01 + rng.unit() * 0.06;
        }
        out
    }
}

/// The retrieved passages as a RAG prompt template puts them into the
/// system prompt.
pub fn context_block(retrieved: &[Retrieved<'_>]) -> String {
    let mut out = String::from(
        "\n\n## Context\n\nAnswer from the passages below; cite them by id. If they do not hold the answer, say so.\n",
    );
    for item in retrieved {
        out.push_str("\n[");
        out.push_str(&item.document.id);
        out.push_str("]\n");
        out.push_str(&item.document.content);
        out.push('\n');
    }
    out
}
