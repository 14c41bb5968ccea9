"""Fixed vocabularies for the synthetic Protheus masters.

Faker supplies people's names and street names; the words a Brazilian, Swiss or
American company puts in its legal name, the legal forms and the real cities with
their postcode ranges are not in Faker, so they live here.
"""

from __future__ import annotations

from typing import Final

# (full phrase, abbreviated phrase): legacy keying abbreviates exactly these words.
BR_ACTIVITIES: Final = (
    ("Indústria de Embalagens", "Ind. de Embalagens"),
    ("Indústria e Comércio de Plásticos", "Ind. e Com. de Plásticos"),
    ("Comércio de Materiais Elétricos", "Com. de Mat. Elétricos"),
    ("Comércio de Ferragens", "Com. de Ferragens"),
    ("Distribuidora de Alimentos", "Distrib. de Alimentos"),
    ("Distribuidora de Bebidas", "Distrib. de Bebidas"),
    ("Serviços de Manutenção Industrial", "Serv. de Manut. Industrial"),
    ("Serviços de Limpeza", "Serv. de Limpeza"),
    ("Transportes e Logística", "Transp. e Logística"),
    ("Transportes Rodoviários", "Transp. Rodoviários"),
    ("Importação e Exportação", "Imp. e Exp."),
    ("Comércio Importação e Exportação", "Com. Imp. e Exp."),
    ("Indústria Metalúrgica", "Ind. Metalúrgica"),
    ("Construções e Engenharia", "Constr. e Eng."),
    ("Tecnologia da Informação", "Tec. da Informação"),
    ("Produtos Químicos", "Prod. Químicos"),
    ("Peças e Acessórios", "Pçs. e Acessórios"),
    ("Equipamentos Industriais", "Equip. Industriais"),
    ("Serviços Contábeis", "Serv. Contábeis"),
    ("Indústria Têxtil", "Ind. Têxtil"),
    ("Comércio de Papéis", "Com. de Papéis"),
    ("Materiais de Construção", "Mat. de Construção"),
    ("Móveis e Decorações", "Móveis e Decor."),
    ("Ferramentas e Usinagem", "Ferram. e Usinagem"),
    ("Indústria de Borrachas", "Ind. de Borrachas"),
    ("Vidros e Espelhos", "Vidros e Espelhos"),
    ("Tintas e Vernizes", "Tintas e Vernizes"),
    ("Laticínios", "Latic."),
    ("Agropecuária", "Agropec."),
    ("Comércio de Combustíveis", "Com. de Combustíveis"),
    ("Segurança e Vigilância", "Seg. e Vigilância"),
    ("Informática", "Inform."),
    ("Consultoria Empresarial", "Consult. Empresarial"),
    ("Gráfica e Editora", "Gráf. e Editora"),
    ("Engenharia Elétrica", "Eng. Elétrica"),
    ("Comércio de Medicamentos", "Com. de Medicamentos"),
    ("Fundição e Usinagem", "Fund. e Usinagem"),
    ("Logística e Armazenagem", "Log. e Armazenagem"),
    ("Comércio Atacadista", "Com. Atacadista"),
    ("Indústria de Alimentos", "Ind. de Alimentos"),
)

# Nouns that open a name ("Distribuidora Souza Comércio").
BR_ROLES: Final = (
    ("Distribuidora", "Distrib."),
    ("Comercial", "Coml."),
    ("Transportadora", "Transp."),
    ("Metalúrgica", "Metal."),
    ("Construtora", "Constr."),
    ("Madeireira", "Madeireira"),
    ("Gráfica", "Gráf."),
    ("Companhia", "Cia"),
    ("Indústria", "Ind."),
    ("Auto Peças", "Auto Pçs."),
    ("Laboratório", "Lab."),
    ("Supermercado", "Supermerc."),
)

BR_ROLE_TAILS: Final = (
    ("Comércio", "Com."),
    ("Indústria e Comércio", "Ind. e Com."),
    ("Comércio e Serviços", "Com. e Serv."),
    ("Importação e Exportação", "Imp. e Exp."),
    ("Logística", "Log."),
)

BR_FANTASY: Final = (
    "Nova Era", "Boa Vista", "Três Irmãos", "Estrela do Sul", "Sol Nascente", "Alvorada",
    "Santa Luzia", "São Jorge", "Bom Jesus", "Primavera", "Horizonte", "Paulista", "Mineira",
    "Gaúcha", "Nordeste", "Atlântico", "Pioneira", "Imperial", "Ouro Verde", "Vale Verde",
    "Monte Alegre", "Santa Cruz", "São Francisco", "Planalto", "Progresso", "União", "Aliança",
    "Continental", "Delta", "Alfa", "Bandeirantes", "Guarani", "Tupi", "Itaúna", "Jequitibá",
    "Ipê", "Cruzeiro", "Serra Azul", "Rio Branco", "Líder",
)  # fmt: skip

# Generic names several unrelated companies really share ("Comercial São José").
BR_GENERIC_HEADS: Final = (
    "Comercial", "Transportadora", "Auto Peças", "Materiais de Construção", "Distribuidora",
    "Supermercado", "Padaria", "Farmácia", "Mercadinho", "Madeireira",
)  # fmt: skip
BR_GENERIC_TAILS: Final = (
    "São José", "Santa Rita", "Bom Preço", "Central", "Popular", "Santo Antônio",
    "Nossa Senhora Aparecida", "Brasil", "Silva", "Santos", "Souza", "Oliveira",
)  # fmt: skip

CH_BRANCHES: Final = (
    "Maschinenbau", "Logistik", "Technik", "Elektro", "Holzbau", "Präzisionsmechanik", "Handels",
    "Transporte", "Chemie", "Verpackungen", "Metallbau", "Software", "Treuhand", "Bau",
    "Automation", "Medizintechnik", "Werkzeugbau", "Kunststoff", "Feinmechanik", "Druckerei",
    "Haustechnik", "Gießerei",
)  # fmt: skip
US_INDUSTRIES: Final = (
    "Manufacturing", "Industries", "Logistics", "Technologies", "Systems", "Supply", "Components",
    "Solutions", "Engineering", "Electronics", "Chemicals", "Packaging", "Tooling", "Instruments",
)  # fmt: skip
US_LEADS: Final = (
    "Global", "American", "United", "Pacific", "Atlantic", "Summit", "Pioneer", "Allied",
    "Premier", "National", "Midwest", "Liberty",
)  # fmt: skip

# Legal-form families: the first spelling is the canonical one, the rest are how
# people actually key it.
LEGAL_FORMS: Final = (
    ("",),
    ("Ltda", "LTDA", "Ltda.", "LTDA.", "Ltda", "LTDA"),
    ("S.A.", "S/A", "SA", "S.A", "S.A."),
    ("ME", "- ME", "ME", "M.E."),
    ("EPP", "- EPP", "EPP"),
    ("EIRELI", "Eireli", "- EIRELI"),
    ("AG", "AG"),
    ("GmbH", "GMBH", "GmbH"),
    ("Inc", "Inc.", "INC", "Inc"),
    ("Corp", "Corp.", "Corporation"),
    ("LLC", "LLC", "L.L.C."),
    ("Ltd", "Ltd.", "Limited"),
)
LEGAL_NONE, LEGAL_LTDA, LEGAL_SA, LEGAL_ME, LEGAL_EPP, LEGAL_EIRELI = 0, 1, 2, 3, 4, 5
LEGAL_AG, LEGAL_GMBH, LEGAL_INC, LEGAL_CORP, LEGAL_LLC, LEGAL_LTD = 6, 7, 8, 9, 10, 11

# name, UF, DDD, first and last 5-digit CEP prefix, relative weight (≈ economic size)
BR_CITIES: Final = (
    ("São Paulo", "SP", 11, 1000, 5999, 120), ("Campinas", "SP", 19, 13000, 13139, 14),
    ("Guarulhos", "SP", 11, 7000, 7399, 10), ("São Bernardo do Campo", "SP", 11, 9600, 9899, 9),
    ("Santo André", "SP", 11, 9000, 9299, 7), ("Osasco", "SP", 11, 6000, 6299, 7),
    ("Barueri", "SP", 11, 6400, 6499, 6), ("Jundiaí", "SP", 11, 13200, 13219, 6),
    ("Sorocaba", "SP", 15, 18000, 18109, 6), ("Ribeirão Preto", "SP", 16, 14000, 14114, 7),
    ("São José dos Campos", "SP", 12, 12200, 12248, 7), ("Santos", "SP", 13, 11000, 11099, 5),
    ("Piracicaba", "SP", 19, 13400, 13429, 4), ("Bauru", "SP", 14, 17000, 17099, 3),
    ("São José do Rio Preto", "SP", 17, 15000, 15099, 4), ("Limeira", "SP", 19, 13480, 13489, 2),
    ("Diadema", "SP", 11, 9900, 9999, 3), ("Mogi das Cruzes", "SP", 11, 8700, 8899, 3),
    ("Taubaté", "SP", 12, 12000, 12099, 2), ("São Caetano do Sul", "SP", 11, 9500, 9599, 3),
    ("Rio de Janeiro", "RJ", 21, 20000, 23799, 45), ("Niterói", "RJ", 21, 24000, 24399, 5),
    ("Duque de Caxias", "RJ", 21, 25000, 25499, 5), ("Nova Iguaçu", "RJ", 21, 26000, 26099, 3),
    ("Petrópolis", "RJ", 24, 25600, 25779, 2), ("Volta Redonda", "RJ", 24, 27200, 27299, 2),
    ("Macaé", "RJ", 22, 27900, 27999, 2), ("Campos dos Goytacazes", "RJ", 22, 28000, 28099, 2),
    ("Belo Horizonte", "MG", 31, 30000, 31999, 25), ("Contagem", "MG", 31, 32000, 32399, 5),
    ("Betim", "MG", 31, 32600, 32699, 4), ("Uberlândia", "MG", 34, 38400, 38415, 5),
    ("Juiz de Fora", "MG", 32, 36000, 36099, 3), ("Montes Claros", "MG", 38, 39400, 39409, 2),
    ("Ipatinga", "MG", 31, 35160, 35164, 2), ("Vitória", "ES", 27, 29000, 29099, 4),
    ("Vila Velha", "ES", 27, 29100, 29129, 3), ("Serra", "ES", 27, 29160, 29182, 3),
    ("Curitiba", "PR", 41, 80000, 82999, 20), ("Londrina", "PR", 43, 86000, 86099, 4),
    ("Maringá", "PR", 44, 87000, 87099, 4), ("Ponta Grossa", "PR", 42, 84000, 84099, 2),
    ("Cascavel", "PR", 45, 85800, 85824, 2), ("Foz do Iguaçu", "PR", 45, 85850, 85869, 2),
    ("Porto Alegre", "RS", 51, 90000, 91999, 18), ("Caxias do Sul", "RS", 54, 95000, 95124, 6),
    ("Canoas", "RS", 51, 92000, 92499, 3), ("Novo Hamburgo", "RS", 51, 93300, 93599, 3),
    ("Pelotas", "RS", 53, 96000, 96099, 2), ("Santa Maria", "RS", 55, 97000, 97119, 2),
    ("Florianópolis", "SC", 48, 88000, 88099, 6), ("Joinville", "SC", 47, 89200, 89239, 7),
    ("Blumenau", "SC", 47, 89000, 89099, 5), ("Itajaí", "SC", 47, 88300, 88319, 3),
    ("Chapecó", "SC", 49, 89800, 89816, 2), ("Jaraguá do Sul", "SC", 47, 89250, 89269, 3),
    ("Criciúma", "SC", 48, 88800, 88819, 2), ("Salvador", "BA", 71, 40000, 42499, 14),
    ("Camaçari", "BA", 71, 42800, 42849, 3), ("Feira de Santana", "BA", 75, 44000, 44099, 3),
    ("Recife", "PE", 81, 50000, 52999, 12), ("Caruaru", "PE", 81, 55000, 55099, 2),
    ("Petrolina", "PE", 87, 56300, 56399, 2), ("Fortaleza", "CE", 85, 60000, 61599, 11),
    ("Juazeiro do Norte", "CE", 88, 63000, 63099, 1), ("Natal", "RN", 84, 59000, 59139, 4),
    ("Mossoró", "RN", 84, 59600, 59649, 1), ("João Pessoa", "PB", 83, 58000, 58099, 4),
    ("Campina Grande", "PB", 83, 58400, 58499, 2), ("Maceió", "AL", 82, 57000, 57099, 4),
    ("Aracaju", "SE", 79, 49000, 49099, 3), ("Teresina", "PI", 86, 64000, 64099, 3),
    ("São Luís", "MA", 98, 65000, 65099, 4), ("Imperatriz", "MA", 99, 65900, 65919, 1),
    ("Belém", "PA", 91, 66000, 66999, 6), ("Santarém", "PA", 93, 68000, 68099, 1),
    ("Manaus", "AM", 92, 69000, 69099, 9), ("Porto Velho", "RO", 69, 76800, 76834, 2),
    ("Brasília", "DF", 61, 70000, 72799, 14), ("Goiânia", "GO", 62, 74000, 74899, 9),
    ("Anápolis", "GO", 62, 75000, 75149, 3), ("Campo Grande", "MS", 67, 79000, 79129, 4),
    ("Cuiabá", "MT", 65, 78000, 78109, 4),
)  # fmt: skip

# Foreign cities: name, country code (BACEN, as in Protheus A2_PAIS), phone prefix.
CH_CITIES: Final = (
    ("Zürich", "+41 44"),
    ("Basel", "+41 61"),
    ("Bern", "+41 31"),
    ("Genève", "+41 22"),
    ("Lausanne", "+41 21"),
    ("Luzern", "+41 41"),
    ("Winterthur", "+41 52"),
    ("St. Gallen", "+41 71"),
    ("Zug", "+41 41"),
    ("Lugano", "+41 91"),
)
DE_CITIES: Final = (
    ("München", "+49 89"),
    ("Berlin", "+49 30"),
    ("Hamburg", "+49 40"),
    ("Stuttgart", "+49 711"),
    ("Frankfurt am Main", "+49 69"),
    ("Köln", "+49 221"),
    ("Düsseldorf", "+49 211"),
)
US_CITIES: Final = (
    ("New York", "+1 212"),
    ("Chicago", "+1 312"),
    ("Houston", "+1 713"),
    ("Atlanta", "+1 404"),
    ("Detroit", "+1 313"),
    ("Boston", "+1 617"),
    ("Miami", "+1 305"),
)
COUNTRY_BR, COUNTRY_CH, COUNTRY_DE, COUNTRY_US = "105", "767", "023", "249"

BR_STREET_PREFIXES: Final = (
    # full, abbreviations, relative weight
    ("Rua", ("R.", "R", "Rua"), 55),
    ("Avenida", ("Av.", "AV", "Av"), 25),
    ("Alameda", ("Al.", "Al"), 5),
    ("Travessa", ("Tv.", "Trav."), 4),
    ("Estrada", ("Estr.", "Est."), 5),
    ("Rodovia", ("Rod.", "Rod"), 4),
    ("Praça", ("Pça.", "Pc."), 2),
)
BR_STREET_HONORIFICS: Final = (
    "", "", "", "", "", "Dr. ", "Marechal ", "Presidente ", "Professor ", "Coronel ", "Padre ",
    "Dom ", "Senador ", "Governador ", "Engenheiro ",
)  # fmt: skip
BR_STREET_NAMED: Final = (
    "XV de Novembro", "Sete de Setembro", "das Flores", "Brasil", "Paulista", "da Independência",
    "Tiradentes", "Getúlio Vargas", "Santos Dumont", "Rio Branco", "das Nações Unidas",
    "dos Bandeirantes", "Anhanguera", "Castelo Branco", "Presidente Dutra", "das Indústrias",
)  # fmt: skip
BR_COMPLEMENTS: Final = ("", "", "", "", " - Galpão 2", " - Sala 12", " - Bloco B", " - Fundos")

EMAIL_LOCALS: Final = (
    "contato", "compras", "financeiro", "vendas", "nfe", "comercial", "adm", "fiscal",
)  # fmt: skip
PERSONAL_DOMAINS: Final = (
    "gmail.com", "hotmail.com", "yahoo.com.br", "uol.com.br", "bol.com.br", "outlook.com",
)  # fmt: skip
EMPLOYER_DOMAIN: Final = "grupoaurora.com.br"
BR_PARTICLES: Final = ("da", "de", "dos", "do", "das")
